import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type Cluster } from "./support/cluster";
import { callOk, callTool, connectMcp, uniqueProjectPath, type AgentResult } from "./support/mcp";

// Three instances of the built app on one Postgres database, driven with the MCP SDK client over
// HTTP: what one instance decides, the others must see, and what must happen once happens once.
// Postgres only (the embedded database belongs to one process): skipped without E2E_DATABASE_URL.

const POSTGRES = process.env.E2E_DATABASE_URL;
const INSTANCES = 3;
const CONTENDERS = 50;
/** The auto-retire job's row in scheduled_jobs (src/server/jobs/scheduled.ts). */
const AUTO_RETIRE_JOB = "auto-retire";
/** The reservation cleanup job's row. */
const CLEANUP_JOB = "file-reservation-sweep";
/** How often the test looks at the database while it waits for something. */
const POLL_MS = 250;

let cluster: Cluster | undefined;
const clients: Client[] = [];

interface Holder {
  agent: string;
  path_pattern: string;
  exclusive: boolean;
  expires_ts: string;
}
interface Reservation {
  granted: { id: number; path_pattern: string; exclusive: boolean }[];
  conflicts: { path: string; holders: Holder[] }[];
}

const client = (index: number) => clients[index % clients.length]!;

async function register(index: number, projectKey: string): Promise<AgentResult> {
  return callOk<AgentResult>(client(index), "register_agent", {
    project_key: projectKey,
    program: "multi-instance-test",
    model: "test-model",
    task_description: `contender ${index}`,
  });
}

/** Registers `count` agents, agent i through instance i mod 3, one at a time per instance. */
async function registerSpread(count: number, projectKey: string): Promise<AgentResult[]> {
  const agents: AgentResult[] = new Array(count);
  await Promise.all(
    clients.map(async (_, instance) => {
      for (let index = instance; index < count; index += clients.length) agents[index] = await register(index, projectKey);
    }),
  );
  return agents;
}

async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const connection = new pg.Client({ connectionString: cluster!.databaseUrl });
  await connection.connect();
  try {
    return (await connection.query<T>(text, values)).rows;
  } finally {
    await connection.end();
  }
}

/** Polls `read` until `done` holds for its value, then returns the value. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const jobRuns = async (name: string) => (await sql<{ runs: number }>(`SELECT runs FROM scheduled_jobs WHERE name = $1`, [name]))[0]?.runs;

describe.skipIf(!POSTGRES || process.env.E2E_BASE_URL)("three instances on one Postgres database", () => {
  beforeAll(async () => {
    cluster = await startCluster(POSTGRES!, INSTANCES, {
      // Auto-retire is due at start, then not again for an hour. The 1 s reservation cleanup makes
      // every instance's job runner tick each second (the runner ticks at the shortest interval).
      AUTO_RETIRE_STALE_AGENTS_ENABLED: "true",
      AUTO_RETIRE_STALE_AGENTS_INTERVAL_SECONDS: "3600",
      AUTO_RETIRE_STALE_AGENTS_THRESHOLD_SECONDS: "86400",
      FILE_RESERVATIONS_CLEANUP_ENABLED: "true",
      FILE_RESERVATIONS_CLEANUP_INTERVAL_SECONDS: "1",
    });
    for (const server of cluster.servers) clients.push(await connectMcp(server.url));
  });

  afterEach((context) => {
    if (context.task.result?.state === "fail" && cluster) console.error(cluster.output());
  });

  afterAll(async () => {
    for (const mcp of clients) await mcp.close();
    await cluster?.stop();
  });

  it(`${CONTENDERS} concurrent exclusive reservations of one path across the instances: one clean grant, every other lists all earlier holders`, async () => {
    const projectKey = uniqueProjectPath("multi-reserve");
    await callOk(client(0), "ensure_project", { human_key: projectKey });
    const agents = await registerSpread(CONTENDERS, projectKey);

    const results = await Promise.all(
      agents.map((agent, index) =>
        callOk<Reservation>(client(index), "file_reservation_paths", {
          project_key: projectKey,
          agent_name: agent.name,
          registration_token: agent.registration_token,
          paths: ["src/contended.ts"],
          exclusive: true,
          ttl_seconds: 3600,
        }).then((result) => ({ agent: agent.name, result })),
      ),
    );

    // Advisory leases: everyone is granted, and told who held the path before.
    for (const { result } of results) expect(result.granted).toHaveLength(1);
    const clean = results.filter(({ result }) => result.conflicts.length === 0);
    expect(clean.map(({ agent }) => agent)).toHaveLength(1);

    // Serialised: ordered by how many holders they saw, the k-th grant saw exactly the k earlier ones.
    const seen = results
      .map(({ agent, result }) => ({ agent, holders: result.conflicts.flatMap((conflict) => conflict.holders.map((holder) => holder.agent)) }))
      .sort((a, b) => a.holders.length - b.holders.length);
    seen.forEach(({ holders }, position) => {
      expect(holders).toHaveLength(position);
      expect(new Set(holders)).toEqual(new Set(seen.slice(0, position).map(({ agent }) => agent)));
    });
    for (const { result } of results.filter(({ result }) => result.conflicts.length > 0)) {
      expect(result.conflicts).toHaveLength(1);
      expect(result.conflicts[0]!.path).toBe("src/contended.ts");
      for (const holder of result.conflicts[0]!.holders) expect(holder).toMatchObject({ path_pattern: "src/contended.ts", exclusive: true });
    }
  });

  it("a contact approved through instance A lets a send through instance C", async () => {
    const [a, b, c] = [client(0), client(1), client(2)];
    const projectKey = uniqueProjectPath("multi-contact");
    await callOk(a, "ensure_project", { human_key: projectKey });
    const [sender, recipient] = await registerSpread(2, projectKey);
    await callOk(b, "set_contact_policy", {
      project_key: projectKey,
      agent_name: recipient!.name,
      registration_token: recipient!.registration_token,
      policy: "contacts_only",
    });
    const send = () =>
      callTool(c, "send_message", {
        project_key: projectKey,
        sender_name: sender!.name,
        sender_token: sender!.registration_token,
        to: [recipient!.name],
        subject: "across instances",
        body_md: "sent through instance C",
        auto_contact_if_blocked: false,
      });

    const blocked = (await send()) as CallToolResult;
    expect(blocked.isError).toBe(true);
    expect((blocked.structuredContent as { error: { type: string } }).error.type).toBe("CONTACT_REQUIRED");

    await callOk(a, "request_contact", {
      project_key: projectKey,
      from_agent: sender!.name,
      to_agent: recipient!.name,
      registration_token: sender!.registration_token,
      reason: "multi-instance test",
    });
    const approved = await callOk<{ approved: boolean }>(a, "respond_contact", {
      project_key: projectKey,
      to_agent: recipient!.name,
      from_agent: sender!.name,
      accept: true,
      registration_token: recipient!.registration_token,
    });
    expect(approved.approved).toBe(true);

    const delivered = (await send()) as CallToolResult;
    expect(delivered.isError, JSON.stringify(delivered.content)).toBeFalsy();
    const inbox = await callOk<{ result: { subject: string; from: string }[] }>(b, "fetch_inbox", {
      project_key: projectKey,
      agent_name: recipient!.name,
      registration_token: recipient!.registration_token,
    });
    expect(inbox.result.map((message) => [message.from, message.subject])).toContainEqual([sender!.name, "across instances"]);
  });

  it("auto-retire runs once per due time, on one instance, not on all three", async () => {
    const projectKey = uniqueProjectPath("multi-retire");
    await callOk(client(0), "ensure_project", { human_key: projectKey });
    const [stale, fresh] = await registerSpread(2, projectKey);
    await sql(`UPDATE agents SET last_active_ts = now() - interval '2 days' WHERE id = $1`, [stale!.id]);
    // The instances ran the job once when they started; make it due again, once: all three race for it.
    const before = await until(() => jobRuns(AUTO_RETIRE_JOB), (runs) => runs !== undefined && runs >= 1);
    await sql(`UPDATE scheduled_jobs SET next_run_at = now() WHERE name = $1`, [AUTO_RETIRE_JOB]);
    await until(() => sql(`SELECT 1 FROM agents WHERE id = $1 AND retired_at IS NOT NULL`, [stale!.id]), (rows) => rows.length === 1);
    // Let every instance tick several more times, in which it could (wrongly) run the job again:
    // the once-a-second cleanup job advancing by 5 runs means 5 rounds of ticks have passed.
    const cleanup = await until(() => jobRuns(CLEANUP_JOB), (runs) => runs !== undefined);
    await until(() => jobRuns(CLEANUP_JOB), (runs) => runs! >= cleanup! + 5);

    const [job] = await sql<{ runs: number; last_owner: string | null; next_run_at: Date }>(
      `SELECT runs, last_owner, next_run_at FROM scheduled_jobs WHERE name = $1`,
      [AUTO_RETIRE_JOB],
    );
    expect(job!.runs).toBe(before! + 1);
    expect(job!.last_owner).toBeTruthy();
    expect(job!.next_run_at.getTime()).toBeGreaterThan(Date.now() + 3000 * 1000);
    const [freshRow] = await sql<{ retired_at: Date | null }>(`SELECT retired_at FROM agents WHERE id = $1`, [fresh!.id]);
    expect(freshRow!.retired_at).toBeNull();
  });
});
