import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { TextResourceContents } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import { ensureProject } from "@/server/services/projects/projects";
import type { ServiceContext } from "@/server/services/context";
import { toolingCapabilities, toolingDirectory, toolingSchemas } from "@/server/services/tooling/directory";
import { identityResource } from "@/server/services/tooling/identity";
import { toolingLocks } from "@/server/services/tooling/locks";
import { toolingMetrics, toolingRecent } from "@/server/services/tooling/metrics";
import { flushToolMetrics, MAX_BUFFER, pruneToolMetrics, recordToolCall } from "@/server/services/tooling/metrics-recorder";
import { actorFor } from "../helpers/actors";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { projectWithAgents } from "../helpers/mail";
import { callError, callOk, connectMcp } from "../helpers/mcp-client";

// The tooling and identity resources (reference §5). Metrics come from tool_call_metrics, written
// in batches by the MCP surface, so every instance sharing the database reports the same figures.

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let client: Client;
let ctx: ServiceContext;
let tmp: string;

beforeAll(async () => {
  db = await openTestDatabase();
  server = await startTestServer(db);
  client = await connectMcp(server.url);
  ({ ctx } = await projectWithAgents(db, "/tooling/main", ["GreenLake", "BlueDog"]));
  tmp = await mkdtemp(path.join(os.tmpdir(), "mailroom-identity-"));
});
afterAll(async () => {
  await client?.close();
  await server?.close();
  await db?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function readJson<T>(uri: string): Promise<T> {
  const result = await client.readResource({ uri });
  return JSON.parse((result.contents[0] as TextResourceContents).text) as T;
}

interface ToolMetric {
  name: string;
  calls: number;
  errors: number;
  cluster: string;
}

describe("tool-call metrics", () => {
  it("records every MCP tool call (ok or not) and tooling/metrics counts them from the table", async () => {
    const agents = await db.prisma.agent.findMany({ where: { project: { humanKey: "/tooling/main" } } });
    const token = (await projectWithAgents(db, "/tooling/metrics", ["RedFox"])).agents.RedFox!.token;
    await callOk(client, "health_check", {});
    await callOk(client, "whois", { project_key: "/tooling/metrics", agent_name: "RedFox", registration_token: token });
    await callError(client, "whois", { project_key: "/tooling/metrics", agent_name: "RedFox", registration_token: "wrong" });
    await callError(client, "no_such_tool", {});
    expect(agents).toHaveLength(2);
    await flushToolMetrics(db.prisma);

    const rows = await db.prisma.toolCallMetric.findMany({ where: { tool: "whois" }, orderBy: { id: "asc" } });
    const project = await db.prisma.project.findUniqueOrThrow({ where: { humanKey: "/tooling/metrics" } });
    expect(rows.map(({ surface, projectId, agentName, ok, errorCode }) => ({ surface, projectId, agentName, ok, errorCode }))).toEqual([
      { surface: "mcp", projectId: project.id, agentName: "RedFox", ok: true, errorCode: null },
      // Refused before the handler: the project is not recorded, the name the caller gave is.
      { surface: "mcp", projectId: null, agentName: "RedFox", ok: false, errorCode: "AUTHENTICATION_REQUIRED" },
    ]);
    expect(await db.prisma.toolCallMetric.count({ where: { tool: "no_such_tool" } })).toBe(0);

    const metrics = await readJson<{ tools: ToolMetric[] }>("resource://tooling/metrics");
    const byName = new Map(metrics.tools.map((tool) => [tool.name, tool]));
    expect(byName.get("whois")).toMatchObject({ calls: 2, errors: 1, cluster: "identity" });
    expect(byName.get("health_check")).toMatchObject({ calls: 1, errors: 0, cluster: "infrastructure" });
    expect(byName.get("send_message")).toMatchObject({ calls: 0, errors: 0, cluster: "messaging" });
  });

  it("counts what other instances wrote to the table too", async () => {
    const before = (await invoke(toolingMetrics, ctx, {})).tools.find((tool) => tool.name === "fetch_topic")!;
    await db.prisma.toolCallMetric.createMany({
      data: [
        { tool: "fetch_topic", surface: "mcp", durationMs: 3, ok: true },
        { tool: "fetch_topic", surface: "mcp", durationMs: 4, ok: false, errorCode: "NOT_FOUND" },
      ],
    });
    const after = (await invoke(toolingMetrics, ctx, {})).tools.find((tool) => tool.name === "fetch_topic")!;
    expect({ calls: after.calls - before.calls, errors: after.errors - before.errors }).toEqual({ calls: 2, errors: 1 });
  });

  it("deletes records older than the retention period", async () => {
    const now = new Date();
    const old = new Date(now.getTime() - 8 * 86_400_000);
    const recent = new Date(now.getTime() - 6 * 86_400_000);
    await db.prisma.toolCallMetric.createMany({
      data: [
        { tool: "retention_old", durationMs: 1, ok: true, createdTs: old },
        { tool: "retention_recent", durationMs: 1, ok: true, createdTs: recent },
      ],
    });
    expect(await pruneToolMetrics(db.prisma, 7, now)).toBeGreaterThanOrEqual(1);
    expect(await db.prisma.toolCallMetric.count({ where: { tool: "retention_old" } })).toBe(0);
    expect(await db.prisma.toolCallMetric.count({ where: { tool: "retention_recent" } })).toBe(1);
  });

  it("tooling/recent lists the window's calls newest first, filtered by agent and project; a bad window means 60", async () => {
    const { agents } = await projectWithAgents(db, "/tooling/recent", ["GoldHawk"]);
    await callOk(client, "fetch_inbox", { project_key: "/tooling/recent", agent_name: "GoldHawk", registration_token: agents.GoldHawk!.token });
    await callOk(client, "health_check", {});
    await flushToolMetrics(db.prisma);
    const recent = await readJson<{ window_seconds: number; count: number; entries: { tool: string; project: string | null; agent: string | null; cluster: string }[] }>(
      "resource://tooling/recent/300?agent=goldhawk&project=%2Ftooling%2Frecent",
    );
    expect(recent.window_seconds).toBe(300);
    expect(recent.entries).toEqual([expect.objectContaining({ tool: "fetch_inbox", project: "/tooling/recent", agent: "GoldHawk", cluster: "messaging", ok: true })]);
    expect(recent.count).toBe(1);
    const fallback = await readJson<{ window_seconds: number; entries: { tool: string }[] }>("resource://tooling/recent/soon");
    expect(fallback.window_seconds).toBe(60);
    expect(fallback.entries[0]!.tool).toBe("health_check");
    await db.prisma.toolCallMetric.create({ data: { tool: "ancient", durationMs: 1, ok: true, createdTs: new Date(Date.now() - 120_000) } });
    expect((await invoke(toolingRecent, ctx, { window_seconds: "60" })).entries.map((entry) => entry.tool)).not.toContain("ancient");
    expect((await invoke(toolingRecent, ctx, { window_seconds: 600 })).entries.map((entry) => entry.tool)).toContain("ancient");
  });

  it("shows an actor limited to some projects only the calls made in them", async () => {
    const scoped: ServiceContext = { ...ctx, actor: actorFor("reader", ["/tooling/recent"]) };
    const entries = (await invoke(toolingRecent, scoped, { window_seconds: 3600 })).entries;
    expect(entries.length).toBeGreaterThan(0);
    expect(new Set(entries.map((entry) => entry.project))).toEqual(new Set(["/tooling/recent"]));
  });
});

describe("tooling/directory, schemas and capabilities", () => {
  it("lists every tool once, by cluster, with the reference's fields and playbooks of existing tools", async () => {
    const directory = await invoke(toolingDirectory, ctx, {});
    const names = directory.clusters.flatMap((cluster) => cluster.tools.map((tool) => tool.name));
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(["send_message", "ensure_product", "health_check"]));
    const productBus = directory.clusters.find((cluster) => cluster.name === "product_bus")!;
    expect(productBus.tools.map((tool) => tool.name)).toEqual(
      expect.arrayContaining(["ensure_product", "products_link", "search_messages_product", "fetch_inbox_product", "summarize_thread_product"]),
    );
    expect(productBus.tools[0]).toEqual(
      expect.objectContaining({ summary: expect.any(String), use_when: expect.any(String), related: expect.any(Array), capabilities: ["product_bus", "write"], complexity: "low" }),
    );
    expect(directory.metrics_uri).toBe("resource://tooling/metrics");
    for (const playbook of directory.playbooks) for (const step of playbook.sequence) expect(names).toContain(step);
  });

  it("gives each tool's required and optional arguments; format is global_optional", async () => {
    const schemas = await invoke(toolingSchemas, ctx, {});
    expect(schemas.global_optional).toEqual(["format"]);
    const send = schemas.tools.send_message!;
    expect(send.required).toEqual(["project_key", "sender_name", "body_md"]);
    expect(send.optional).toEqual(expect.arrayContaining(["to", "cc", "bcc", "thread_id", "sender_token"]));
    expect(send.optional).not.toContain("format");
  });

  it("derives capabilities from the caller's roles; with project, the agent must exist there", async () => {
    const reader = await invoke(toolingCapabilities, { ...ctx, actor: actorFor("reader") }, { agent: "GreenLake" });
    expect(reader.capabilities).toContain("read");
    expect(reader.capabilities).not.toContain("write");
    expect(reader.project).toBeNull();
    const writer = await invoke(toolingCapabilities, { ...ctx, actor: actorFor("writer") }, { agent: "greenlake", project: "/tooling/main" });
    expect(writer).toMatchObject({ agent: "GreenLake", project: "/tooling/main" });
    expect(writer.capabilities).toEqual(expect.arrayContaining(["messaging", "read", "write"]));
    const missing = await invoke(toolingCapabilities, ctx, { agent: "SilverWolf", project: "/tooling/main" }).catch((error: unknown) => error);
    expect((missing as AppError).code).toBe("NOT_FOUND");
  });
});

describe("tooling/locks", () => {
  it("lists advisory locks held in the database and the periodic jobs", async () => {
    await db.prisma.scheduledJob.create({ data: { name: "locks-test-job", nextRunAt: new Date(Date.now() - 3600_000), runs: 3, lastOwner: "instance-a" } });
    const locks = await db.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe("SELECT pg_advisory_xact_lock(424242)");
      return invoke(toolingLocks, { ...ctx, db: tx }, {});
    });
    const advisory = locks.locks.find((lock) => lock.path === "advisory:0:424242:1");
    expect(advisory).toMatchObject({ category: "advisory", status: "held", owner_alive: true, stale_suspected: false });
    const job = locks.locks.find((lock) => lock.path === "job:locks-test-job");
    expect(job).toMatchObject({ category: "job", status: "due", stale_suspected: true, metadata: expect.objectContaining({ runs: 3, last_owner: "instance-a" }) });
    expect(locks.summary.total).toBe(locks.locks.length);
    expect(locks.summary.stale).toBeGreaterThanOrEqual(1);
    const after = await invoke(toolingLocks, ctx, {});
    expect(after.locks.find((lock) => lock.path === "advisory:0:424242:1")).toBeUndefined();
  });
});

describe("resource://identity/{project}", () => {
  async function repo(name: string, files: Record<string, string>): Promise<string> {
    const root = path.join(tmp, name);
    for (const [file, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), text);
    }
    return root;
  }

  it("reads branch, remote and ignorecase of a git repository on the server", async () => {
    const root = await repo("plain", {
      ".git/HEAD": "ref: refs/heads/feature/x\n",
      ".git/config": '[core]\n\tignorecase = true\n[remote "origin"]\n\turl = git@github.com:Owner/Repo.git\n',
      "src/.keep": "",
    });
    await invoke(ensureProject, ctx, { human_key: path.join(root, "src") });
    const identity = await readJson<Record<string, unknown>>(`resource://identity/${encodeURIComponent(path.join(root, "src"))}`);
    expect(identity).toMatchObject({
      identity_mode_used: "dir",
      human_key: path.join(root, "src"),
      canonical_path: path.join(root, "src"),
      repo_root: root,
      git_common_dir: path.join(root, ".git"),
      branch: "feature/x",
      worktree_name: null,
      core_ignorecase: true,
      normalized_remote: "github.com/Owner/Repo",
      project_uid: expect.stringMatching(/^[0-9a-f]{20}$/),
      discovery: { directory: true, git: true, marker_present: false, uid_source: "remote" },
    });
  });

  it("follows a worktree's .git file to its common dir, and prefers the committed marker for project_uid", async () => {
    const main = await repo("main", { ".git/HEAD": "ref: refs/heads/main\n", ".git/config": "[core]\n\tignorecase = false\n" });
    const worktree = await repo("wt", {
      ".git": `gitdir: ${path.join(main, ".git/worktrees/wt")}\n`,
      ".agent-mail-project-id": "proj-123\n",
    });
    await repo("main/.git/worktrees/wt", { HEAD: "ref: refs/heads/topic\n", commondir: "../..\n" });
    await invoke(ensureProject, ctx, { human_key: worktree });
    const identity = await invoke(identityResource, ctx, { project_key: worktree });
    expect(identity).toMatchObject({
      repo_root: worktree,
      git_common_dir: path.join(main, ".git"),
      branch: "topic",
      worktree_name: "wt",
      core_ignorecase: false,
      normalized_remote: null,
      project_uid: "proj-123",
    });
  });

  it("has no git facts for a human_key that is not a directory here", async () => {
    const identity = await invoke(identityResource, ctx, { project_key: "/tooling/main" });
    expect(identity).toMatchObject({
      slug: "tooling-main",
      repo_root: null,
      git_common_dir: null,
      branch: null,
      normalized_remote: null,
      discovery: { directory: false, git: false, uid_source: "path" },
    });
  });
});

// Last: it keeps the database busy for seconds, longer than an idle HTTP keep-alive connection of
// the MCP client above lives.
describe("the metrics buffer", () => {
  it("keeps at most MAX_BUFFER unwritten records, dropping the oldest", async () => {
    const scratch = await openTestDatabase();
    try {
      const call = (index: number) => ({
        tool: `bulk_${index}`,
        surface: "mcp",
        projectId: null,
        agentName: null,
        durationMs: 1,
        ok: true,
        errorCode: null,
        createdTs: new Date(),
      });
      for (let index = 0; index < MAX_BUFFER + 5; index++) recordToolCall(scratch.prisma, call(index));
      await flushToolMetrics(scratch.prisma);
      expect(await scratch.prisma.toolCallMetric.count()).toBe(MAX_BUFFER);
      expect(await scratch.prisma.toolCallMetric.count({ where: { tool: { in: ["bulk_0", "bulk_4"] } } })).toBe(0);
      expect(await scratch.prisma.toolCallMetric.count({ where: { tool: "bulk_5" } })).toBe(1);
    } finally {
      await scratch.close();
    }
  });
});
