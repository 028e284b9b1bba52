import type { Metadata } from "next";
import localFont from "next/font/local";
import { SiteNav } from "./_components/site-nav";
import { TrpcProvider } from "./_components/trpc-provider";
import "./globals.css";

// Self-hosted from the npm package: next/font/google would need the internet at build time.
const inter = localFont({
  src: "../../node_modules/@fontsource-variable/inter/files/inter-latin-wght-normal.woff2",
  variable: "--font-inter",
  display: "swap",
});

export const metadata: Metadata = {
  title: "Mailroom",
  description: "Mail and coordination for fleets of AI coding agents",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en" className={inter.variable}>
      <body className="min-h-screen font-sans antialiased">
        <TrpcProvider>
          <SiteNav />
          {children}
        </TrpcProvider>
      </body>
    </html>
  );
}
