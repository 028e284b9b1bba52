// `npx tsx bench/tools-list-size.mts [profile …]`: what tools/list costs a client per profile, in
// tools, characters and tokens (characters ÷ 4 of the `tools` array, the issue's measure), for an
// admin (every tool) and a reader (read tools only), plus the largest tool entries. The listing is
// built by the same code that answers tools/list (src/mcp/catalog.ts); no server is started.
// Default profiles: full, core, lazy. See docs/benchmarks.md.
import { parseToolProfile, toolListing } from "../src/mcp/catalog";
import type { Actor, Role } from "../src/server/auth/actor";

const profiles = process.argv.slice(2).length ? process.argv.slice(2) : ["full", "core", "lazy"];
const actor = (roles: Role[]): Actor => ({ principal: "bench", kind: "token", roles: new Set(roles), projectScopes: "*" });
const callers = { admin: actor(["admin"]), reader: actor(["read"]) };

const rows: string[][] = [];
for (const profile of profiles) {
  for (const [caller, who] of Object.entries(callers)) {
    const tools = toolListing(parseToolProfile(profile), who);
    const characters = JSON.stringify(tools).length;
    rows.push([profile, caller, String(tools.length), characters.toLocaleString("en"), Math.ceil(characters / 4).toLocaleString("en")]);
  }
}
const header = ["profile", "caller", "tools", "characters", "tokens"];
console.log(`| ${header.join(" | ")} |\n| --- | --- | ---: | ---: | ---: |`);
for (const row of rows) console.log(`| ${row.join(" | ")} |`);

const largest = toolListing(parseToolProfile("full"), callers.admin)
  .map((tool) => ({ name: tool.name, tokens: Math.ceil(JSON.stringify(tool).length / 4) }))
  .sort((a, b) => b.tokens - a.tokens)
  .slice(0, 8);
console.log(`\nLargest entries (tokens): ${largest.map((tool) => `${tool.name} ${tool.tokens}`).join(", ")}`);
