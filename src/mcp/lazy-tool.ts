import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

// The lazy profile's one discovery tool, in the spirit of the jleechanorg fork's
// list_extended_tools / call_extended_tool pair (reference §16.1), folded into one tool so the
// listing pays for one entry. Its handling is in ./lazy.ts.

export const LAZY_TOOL_NAME = "call_extended_tool";

export const lazyToolInput = z.strictObject({
  tool_name: z.string().trim().max(64).optional().describe("Omit to list the tools not shown in tools/list."),
  arguments: z.record(z.string().max(64), z.unknown()).optional().describe("Omit to get the tool's input schema; give to call it."),
});

export const LAZY_TOOL_ENTRY: Tool = {
  name: LAZY_TOOL_NAME,
  description: "More tools: no arguments lists them; tool_name gives one's input schema; tool_name + arguments calls it.",
  inputSchema: (() => {
    const schema = z.toJSONSchema(lazyToolInput, { io: "input" }) as Record<string, unknown>;
    delete schema.$schema;
    const properties = schema.properties as Record<string, Record<string, unknown>>;
    delete properties.tool_name!.maxLength;
    return schema as Tool["inputSchema"];
  })(),
  annotations: { openWorldHint: false },
};
