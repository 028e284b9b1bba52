import Link from "next/link";

/** A console page's heading, under a way back to the projects. */
export function PageHeader({ title, children, ...props }: { title: string; children?: React.ReactNode } & React.ComponentProps<"h1">) {
  return (
    <header>
      <Link href="/" className="text-sm text-primary underline-offset-4 hover:underline">
        ← Projects
      </Link>
      <h1 className="mt-2 text-2xl font-bold tracking-tight" {...props}>
        {title}
      </h1>
      {children}
    </header>
  );
}
