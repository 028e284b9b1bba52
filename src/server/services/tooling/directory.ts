import { defineOperation } from "@/server/operations/define";
import { AppError, quote } from "@/server/errors";
import { noInput } from "@/server/schemas/common";
import { capabilitiesInput, capabilitiesOutput, directoryOutput, schemasOutput } from "@/server/schemas/tooling";
import { requireAgent } from "../agents/authenticate";
import { resolveProject } from "../projects/projects";
import { isoTs } from "../format";
import { callableBy, complexity, inputProperties, toolCapabilities, tools } from "./catalog";
import { CLUSTER_PURPOSES, clusterOf } from "./clusters";
import { TOOL_CLUSTERS } from "@/server/operations/define";

// tooling/directory, tooling/schemas and tooling/capabilities: generated from the registry, where
// upstream hand-writes a directory of 25 tools and reads capabilities from a JSON file.

/** Results are JSON whatever `format` asks for (schemas/common.ts). */
const OUTPUT_FORMATS = ["json"];

const PLAYBOOKS = [
  { workflow: "Start a session", sequence: ["ensure_project", "register_agent", "fetch_inbox"] },
  { workflow: "Answer mail", sequence: ["fetch_inbox", "reply_message", "acknowledge_message"] },
  { workflow: "Edit shared files", sequence: ["file_reservation_paths", "send_message", "release_file_reservations"] },
  { workflow: "Catch up on a thread", sequence: ["search_messages", "summarize_thread"] },
  { workflow: "Talk to another agent", sequence: ["request_contact", "respond_contact", "send_message"] },
  { workflow: "Work across repositories", sequence: ["ensure_product", "products_link", "fetch_inbox_product"] },
];

export const toolingDirectory = defineOperation({
  name: "resource://tooling/directory",
  description: "Every tool by cluster, with what it is for and related tools, and common workflows.",
  input: noInput,
  output: directoryOutput,
  permission: "read",
  kind: "query",
  scope: "global",
  resource: "resource://tooling/directory",
  async handler() {
    const all = await tools();
    const names = new Set(all.map((operation) => operation.name));
    const clusters = TOOL_CLUSTERS.map((cluster) => {
      const members = all.filter((operation) => clusterOf(operation) === cluster);
      return {
        name: cluster,
        purpose: CLUSTER_PURPOSES[cluster],
        tools: members.map((operation) => ({
          name: operation.name,
          summary: operation.description,
          use_when: CLUSTER_PURPOSES[cluster],
          related: members.filter((other) => other !== operation).slice(0, 4).map((other) => other.name),
          expected_frequency: operation.tool!.profile === "core" ? "often" : "occasional",
          required_capabilities: [operation.permission],
          usage_examples: [],
          capabilities: toolCapabilities(operation),
          complexity: complexity(operation),
        })),
      };
    }).filter((cluster) => cluster.tools.length > 0);
    return {
      generated_at: isoTs(new Date()),
      metrics_uri: "resource://tooling/metrics",
      output_formats: OUTPUT_FORMATS,
      clusters,
      playbooks: PLAYBOOKS.map((playbook) => ({ ...playbook, sequence: playbook.sequence.filter((name) => names.has(name)) })).filter(
        (playbook) => playbook.sequence.length > 1,
      ),
    };
  },
});

export const toolingSchemas = defineOperation({
  name: "resource://tooling/schemas",
  description: "Each tool's required and optional arguments with their JSON Schemas (format is accepted by every tool).",
  input: noInput,
  output: schemasOutput,
  permission: "read",
  kind: "query",
  scope: "global",
  resource: "resource://tooling/schemas",
  async handler() {
    const entries = (await tools()).map((operation) => {
      const { properties, required } = inputProperties(operation);
      delete properties.format;
      return [
        operation.name,
        { required, optional: Object.keys(properties).filter((name) => !required.includes(name)), shapes: properties },
      ] as const;
    });
    return { generated_at: isoTs(new Date()), global_optional: ["format"], output_formats: OUTPUT_FORMATS, tools: Object.fromEntries(entries) };
  },
});

/**
 * tooling/capabilities/{agent}: what a caller like this one may do. Upstream reads a JSON file per
 * deployment; here the capabilities are those of the tools the caller's roles allow (each tool's
 * cluster, and read or write). With `project`, the agent must exist there.
 */
export const toolingCapabilities = defineOperation({
  name: "resource://tooling/capabilities",
  description: "Capabilities (clusters, read/write) of the tools your roles allow. Query: project.",
  input: capabilitiesInput,
  output: capabilitiesOutput,
  permission: "read",
  kind: "query",
  scope: "global",
  resource: "resource://tooling/capabilities/{agent}",
  async handler(ctx, input) {
    let project: string | null = null;
    let agent = input.agent;
    if (input.project) {
      const found = await resolveProject(ctx, input.project, "project");
      agent = (await requireAgent(ctx.db, found, input.agent, "agent")).name;
      project = found.humanKey;
    } else if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(agent)) {
      throw new AppError("INVALID_ARGUMENT", `agent: '${quote(agent)}' is not an agent name.`, { field: "agent" });
    }
    const allowed = callableBy(ctx.actor, await tools());
    const capabilities = [...new Set(allowed.flatMap(toolCapabilities))].sort();
    return {
      generated_at: isoTs(new Date()),
      agent,
      project,
      capabilities,
      roles: [...ctx.actor.roles].sort(),
      tools: allowed.map((operation) => operation.name),
    };
  },
});
