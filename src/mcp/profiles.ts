import { TOOL_CLUSTERS, type AnyOperation, type ToolCluster } from "@/server/operations/define";
import { quote } from "@/server/errors";
import { clusterOf } from "@/server/services/tooling/clusters";

// Tool profiles (MCP_TOOLS_PROFILE, ?profile=): which tools tools/list shows. `full` is every tool,
// `core` the tools marked core, `lazy` the core tools plus one discovery tool through which the
// others are described and called (src/mcp/lazy.ts), and a comma list names tools, clusters and
// these words, e.g. `core,contact,build_slots`.

export interface ToolProfile {
  /** Canonical text of the profile: equal for equal selections (the listing cache key). */
  key: string;
  /** The tools tools/list shows (before the caller's permissions are applied). */
  listed: ReadonlySet<string>;
  /** The discovery tool is listed, and unlisted tools may still be called. */
  lazy: boolean;
}

/** Longest MCP_TOOLS_PROFILE / ?profile= text accepted. */
export const MAX_PROFILE_TEXT = 2000;

export class ToolProfileError extends Error {}

const WORDS = new Set(["full", "core", "lazy"]);

export function createProfileParser(tools: readonly AnyOperation[]) {
  const byName = new Set(tools.map((operation) => operation.name));
  const core = tools.filter((operation) => operation.tool?.profile === "core").map((operation) => operation.name);
  const cached = new Map<string, ToolProfile>();

  function build(text: string): ToolProfile {
    if (text.length > MAX_PROFILE_TEXT) throw new ToolProfileError(`profile: at most ${MAX_PROFILE_TEXT} characters.`);
    const entries = [...new Set(text.split(",").map((entry) => entry.trim().toLowerCase()).filter(Boolean))];
    if (entries.length === 0) throw new ToolProfileError("profile: give full, core, lazy or a comma list of tools and clusters.");
    const unknown = entries.filter((entry) => !WORDS.has(entry) && !byName.has(entry) && !(TOOL_CLUSTERS as readonly string[]).includes(entry));
    if (unknown.length) {
      const shown = unknown.slice(0, 5).map((entry) => `'${quote(entry)}'`).join(", ");
      throw new ToolProfileError(`profile: unknown tool or cluster ${shown}; use full, core, lazy, tool names or ${TOOL_CLUSTERS.join(", ")}.`);
    }
    const listed = new Set<string>();
    for (const entry of entries) {
      if (entry === "full") tools.forEach((operation) => listed.add(operation.name));
      else if (entry === "core" || entry === "lazy") core.forEach((name) => listed.add(name));
      else if (byName.has(entry)) listed.add(entry);
      else for (const operation of tools) if (clusterOf(operation) === (entry as ToolCluster)) listed.add(operation.name);
    }
    const lazy = entries.includes("lazy") && listed.size < tools.length;
    // Registry order, so equal selections give equal keys whatever order they were written in.
    const names = tools.map((operation) => operation.name).filter((name) => listed.has(name));
    const key = listed.size === tools.length ? "full" : `${lazy ? "lazy:" : ""}${names.join(",")}`;
    return { key, listed: new Set(names), lazy };
  }

  /** The profile a text names; ToolProfileError naming what is wrong otherwise. */
  return function parseToolProfile(text: string): ToolProfile {
    let profile = cached.get(text);
    if (!profile) {
      profile = build(text);
      // Bounded: ?profile= is caller input.
      if (cached.size < 256) cached.set(text, profile);
    }
    return profile;
  };
}
