"use client";

import { useEffect } from "react";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { cn } from "@/lib/utils";
import { OverseerBadge } from "./overseer-badge";
import { SessionMenu } from "./session-menu";

const LINKS = [
  { href: "/", label: "Projects" },
  { href: "/inbox", label: "All mail" },
  { href: "/search", label: "Search" },
  { href: "/admin", label: "Admin" },
] as const;

/** Pages a signed-out visitor sees: no console around them. */
const BARE = ["/login", "/setup"];

function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

/**
 * The console's keys: j / k move between the rows of the page (anything marked data-nav-row),
 * Enter opens the focused row (the rows handle it), / goes to search, Esc closes the open message.
 */
function useConsoleKeys() {
  const router = useRouter();
  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      if (event.metaKey || event.ctrlKey || event.altKey) return;
      if (event.key === "Escape") {
        if (typing(event.target)) (event.target as HTMLElement).blur();
        else document.querySelector<HTMLElement>("[data-close-detail]")?.click();
        return;
      }
      if (typing(event.target)) return;
      if (event.key === "/") {
        event.preventDefault();
        const search = document.querySelector<HTMLInputElement>("#search-query");
        if (search) search.focus();
        else router.push("/search");
        return;
      }
      if (event.key !== "j" && event.key !== "k") return;
      const rows = [...document.querySelectorAll<HTMLElement>("[data-nav-row]")];
      if (rows.length === 0) return;
      event.preventDefault();
      const current = rows.findIndex((row) => row === document.activeElement || row.contains(document.activeElement));
      const next = current === -1 ? 0 : Math.min(rows.length - 1, Math.max(0, current + (event.key === "j" ? 1 : -1)));
      rows[next]!.focus();
      rows[next]!.scrollIntoView({ block: "nearest" });
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [router]);
}

export function SiteNav() {
  const pathname = usePathname();
  useConsoleKeys();
  if (BARE.includes(pathname)) return null;
  return (
    <nav aria-label="Console" className="border-b bg-card">
      <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-5 gap-y-2 px-4 py-3 sm:px-6">
        <Link href="/" className="font-bold tracking-tight">
          Mailroom
        </Link>
        <ul className="flex flex-wrap gap-4 text-sm">
          {LINKS.map((link) => {
            const current = link.href === "/" ? pathname === "/" : pathname.startsWith(link.href);
            return (
              <li key={link.href}>
                <Link
                  href={link.href}
                  aria-current={current ? "page" : undefined}
                  className={cn("underline-offset-4 hover:underline", current ? "font-semibold text-foreground" : "text-primary")}
                >
                  {link.label}
                </Link>
              </li>
            );
          })}
        </ul>
        <div className="ml-auto flex flex-wrap items-center gap-4">
          <OverseerBadge />
          <span className="hidden text-xs text-muted-foreground lg:inline" title="Keyboard">
            j/k move · Enter open · / search · Esc close
          </span>
          <SessionMenu />
        </div>
      </div>
    </nav>
  );
}
