import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { TextResourceContents } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertMessages } from "@/server/db/mail-sql";
import { invoke } from "@/server/operations/invoke";
import { attachmentResource } from "@/server/services/attachments/serve";
import { storeBlobs } from "@/server/services/attachments/store";
import { fetchInbox } from "@/server/services/messages/inbox";
import { replyMessage } from "@/server/services/messages/reply";
import { sendMessage } from "@/server/services/messages/send";
import { messageResource } from "@/server/services/messages/threads";
import { actorFor } from "../helpers/actors";
import { serviceContext } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { startTestServer, type TestServer } from "../helpers/http-server";
import { callError, callOk, connectMcp } from "../helpers/mcp-client";
import { attachmentSamples } from "../helpers/samples/attachments";
import { tableDigest } from "../helpers/snapshot";

// Attachments end to end, as agents on the network use them: sent through MCP over HTTP as base64
// or as files inside the project's directory, stored once per content, listed on every payload,
// and read back byte for byte through the resource and the HTTP route, by the message's sender
// and recipients only. Test limits: 64 KiB per file, 256 KiB per message (tests/helpers/context.ts).

const KIB = 1024;

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let server: TestServer;
let client: Client;
/** The project's directory on this machine: its human_key. */
let root: string;
/** A directory next to it, outside the project. */
let outside: string;
let project: { slug: string; human_key: string };
const OTHER_KEY = "/attachments/elsewhere";

interface Agent {
  name: string;
  token: string;
}
const agents: Record<string, Agent> = {};

interface AttachmentView {
  name: string;
  media_type: string;
  bytes: number;
  sha256: string;
  uri: string;
}
interface Payload {
  id: number;
  attachments: AttachmentView[];
  body_md?: string;
}
interface SendResult {
  deliveries: { project: string; payload: Payload }[];
  count: number;
  idempotent_replay?: true;
}

const INT32_MAX = 2_147_483_647;
const BINARY = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
const TEXT = Buffer.from("Grüße, 世界! — naïve café ✓\n", "utf8");
const EMPTY = Buffer.alloc(0);

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const b64 = (data: Buffer) => data.toString("base64");
const file = (name: string, mediaType: string, data: Buffer) => ({ name, media_type: mediaType, content_base64: b64(data) });

async function register(projectKey: string, name: string): Promise<Agent> {
  const agent = await callOk<{ name: string; registration_token: string }>(client, "register_agent", {
    project_key: projectKey,
    program: "test-suite",
    model: "test-model",
    name,
  });
  return { name: agent.name, token: agent.registration_token };
}

beforeAll(async () => {
  const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), "mailroom-attachments-")));
  root = path.join(base, "project");
  outside = path.join(base, "outside");
  mkdirSync(path.join(root, "docs"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(root, "docs", "report.md"), "# Report\n\nAll green.\n");
  writeFileSync(path.join(root, "data.bin"), BINARY);
  writeFileSync(path.join(root, "big.txt"), Buffer.alloc(64 * KIB + 1, "x"));
  writeFileSync(path.join(outside, "secret.txt"), "not for agents\n");
  symlinkSync(path.join(outside, "secret.txt"), path.join(root, "leak.txt"));
  symlinkSync(outside, path.join(root, "outside-dir"));
  symlinkSync(path.join(root, "docs", "report.md"), path.join(root, "alias.md"));

  db = await openTestDatabase();
  server = await startTestServer(db);
  client = await connectMcp(server.url);
  project = await callOk(client, "ensure_project", { human_key: root });
  for (const name of ["GreenLake", "BlueDog", "RedStone", "GoldPeak", "PinkFox", "TealOwl"]) agents[name] = await register(project.slug, name);
  await callOk(client, "ensure_project", { human_key: OTHER_KEY });
  agents.SilverWolf = await register(OTHER_KEY, "SilverWolf");
});
afterAll(async () => {
  await client?.close();
  await server?.close();
  await db?.close();
  if (root) rmSync(path.dirname(root), { recursive: true, force: true });
});

function send(from: string, args: Record<string, unknown>): Promise<SendResult> {
  return callOk<SendResult>(client, "send_message", {
    project_key: project.slug,
    sender_name: from,
    sender_token: agents[from]!.token,
    to: ["BlueDog"],
    subject: "files",
    body_md: "see attached",
    ...args,
  });
}

function sendError(from: string, args: Record<string, unknown>): Promise<string> {
  return callError(client, "send_message", {
    project_key: project.slug,
    sender_name: from,
    sender_token: agents[from]!.token,
    to: ["BlueDog"],
    subject: "files",
    body_md: "see attached",
    ...args,
  });
}

function viewerQuery(who: string, projectKey = project.slug, token = agents[who]!.token): string {
  return new URLSearchParams({ project: projectKey, agent: who, agent_token: token }).toString();
}

/** resource://attachment/{id}/{sha}?…, decoded. */
async function readResource(uri: string, who: string, projectKey?: string, token?: string) {
  const result = await client.readResource({ uri: `${uri}?${viewerQuery(who, projectKey, token)}` });
  const content = result.contents[0] as TextResourceContents;
  return JSON.parse(content.text) as { name: string; media_type: string; bytes: number; sha256: string; content_base64: string };
}

/** GET /api/attachments/{id}/{sha}?… */
function download(view: Pick<AttachmentView, "uri">, who: string, projectKey?: string, token?: string): Promise<Response> {
  const [messageId, digest] = view.uri.replace("resource://attachment/", "").split("/");
  return fetch(new URL(`/api/attachments/${messageId}/${digest}?${viewerQuery(who, projectKey, token)}`, server.url));
}

async function blobCount(digest: string): Promise<number> {
  const [row] = await db.prisma.$queryRaw<{ count: number }[]>`SELECT count(*)::int AS count FROM attachment_blobs WHERE sha256 = ${digest}`;
  return row!.count;
}

describe("content attachments round trip", () => {
  let sent: SendResult;

  beforeAll(async () => {
    sent = await send("GreenLake", {
      cc: ["RedStone"],
      bcc: ["GoldPeak"],
      attachments: [file("bytes.bin", "application/octet-stream", BINARY), file("grüße.txt", "Text/Plain", TEXT), file("empty.txt", "text/plain", EMPTY)],
    });
  });

  it("lists {name, media_type, bytes, sha256, uri} on the send payload and stores the metadata on the message", async () => {
    const payload = sent.deliveries[0]!.payload;
    const expected = [
      ["bytes.bin", "application/octet-stream", BINARY],
      ["grüße.txt", "text/plain", TEXT],
      ["empty.txt", "text/plain", EMPTY],
    ] as const;
    expect(payload.attachments).toEqual(
      expected.map(([name, mediaType, data]) => ({
        name,
        media_type: mediaType,
        bytes: data.length,
        sha256: sha(data),
        uri: `resource://attachment/${payload.id}/${sha(data)}`,
      })),
    );
    const row = await db.prisma.message.findUniqueOrThrow({ where: { id: payload.id } });
    expect(row.attachments).toEqual(expected.map(([name, mediaType, data]) => ({ name, media_type: mediaType, bytes: data.length, sha256: sha(data) })));
  });

  it("reads back byte for byte through the MCP resource", async () => {
    for (const [index, data] of [BINARY, TEXT, EMPTY].entries()) {
      const view = sent.deliveries[0]!.payload.attachments[index]!;
      const read = await readResource(view.uri, "BlueDog");
      expect({ ...read, content_base64: undefined }).toEqual({ name: view.name, media_type: view.media_type, bytes: data.length, sha256: sha(data), content_base64: undefined });
      expect(Buffer.from(read.content_base64, "base64").equals(data)).toBe(true);
    }
  });

  it("reads back byte for byte through GET /api/attachments, as a download", async () => {
    for (const [index, data] of [BINARY, TEXT, EMPTY].entries()) {
      const view = sent.deliveries[0]!.payload.attachments[index]!;
      const response = await download(view, "BlueDog");
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(data)).toBe(true);
      expect(response.headers.get("content-type")).toBe(view.media_type);
      expect(response.headers.get("content-length")).toBe(String(data.length));
      expect(response.headers.get("content-disposition")).toBe(
        `attachment; filename="${view.name.replace(/[^\x20-\x7e]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(view.name)}`,
      );
    }
  });

  it("lists the attachments on every read of the message: inbox, message, thread, outbox, mailbox", async () => {
    const payload = sent.deliveries[0]!.payload;
    const inbox = await callOk<{ result: Payload[] }>(client, "fetch_inbox", { project_key: project.slug, agent_name: "BlueDog", registration_token: agents.BlueDog!.token });
    expect(inbox.result.find((item) => item.id === payload.id)!.attachments).toEqual(payload.attachments);
    const message = JSON.parse(
      ((await client.readResource({ uri: `resource://message/${payload.id}?${viewerQuery("GoldPeak")}` })).contents[0] as TextResourceContents).text,
    ) as Payload;
    expect(message.attachments).toEqual(payload.attachments);
    const outbox = JSON.parse(
      ((await client.readResource({ uri: `resource://outbox/GreenLake?${new URLSearchParams({ project: project.slug, agent_token: agents.GreenLake!.token })}` })).contents[0] as TextResourceContents).text,
    ) as { messages: Payload[] };
    expect(outbox.messages.find((item) => item.id === payload.id)!.attachments).toEqual(payload.attachments);
    const thread = JSON.parse(
      ((await client.readResource({ uri: `resource://thread/${payload.id}?${viewerQuery("RedStone")}` })).contents[0] as TextResourceContents).text,
    ) as { messages: Payload[] };
    expect(thread.messages[0]!.attachments).toEqual(payload.attachments);
  });

  it("serves the sender, to, cc and bcc recipients", async () => {
    const view = sent.deliveries[0]!.payload.attachments[0]!;
    for (const who of ["GreenLake", "BlueDog", "RedStone", "GoldPeak"]) {
      expect(Buffer.from((await readResource(view.uri, who)).content_base64, "base64").equals(BINARY)).toBe(true);
      expect((await download(view, who)).status).toBe(200);
    }
  });

  it("refuses another agent with not-found (404), exactly as for a message or file that does not exist", async () => {
    const view = sent.deliveries[0]!.payload.attachments[0]!;
    await expect(readResource(view.uri, "PinkFox")).rejects.toThrow(/MCP error -32002: NOT_FOUND: Attachment .* not found or not visible/);
    const refused = await download(view, "PinkFox");
    expect(refused.status).toBe(404);
    const missing = await download({ uri: view.uri.replace(/\/\d+\//, "/2147483647/") }, "PinkFox");
    expect(missing.status).toBe(404);
    expect(await refused.json()).toEqual({ error: { type: "NOT_FOUND", message: expect.stringContaining("not found or not visible") } });
    const otherFile = await download({ uri: view.uri.replace(/[0-9a-f]{64}$/, "0".repeat(64)) }, "BlueDog");
    expect(otherFile.status).toBe(404);
  });

  it("refuses a wrong token before looking at the message; without an agent it is the overseer's download", async () => {
    const view = sent.deliveries[0]!.payload.attachments[0]!;
    await expect(readResource(view.uri, "BlueDog", project.slug, agents.PinkFox!.token)).rejects.toThrow(/AUTHENTICATION_REQUIRED: Invalid agent_token/);
    expect((await download(view, "BlueDog", project.slug, "wrong-token")).status).toBe(401);
    const noAgent = (message: number | string) => fetch(new URL(`/api/attachments/${message}/${view.sha256}?project=${project.slug}`, server.url));
    // Without an agent it is the overseer's download: the local operator is admin here (the
    // roles are checked in dashboard-console.test.ts). It still needs a message of the project
    // that carries the file.
    const operator = await noAgent(sent.deliveries[0]!.payload.id);
    expect(operator.status).toBe(200);
    expect(Buffer.from(await operator.arrayBuffer()).equals(BINARY)).toBe(true);
    expect((await noAgent(INT32_MAX)).status).toBe(404);
  });

  it("does not let a file on one message be read through another message that does not carry it", async () => {
    // PinkFox gets the same bytes on its own message: that message's id works, the first one's does not.
    const own = await send("GreenLake", { to: ["PinkFox"], attachments: [file("same.bin", "application/octet-stream", BINARY)] });
    const view = own.deliveries[0]!.payload.attachments[0]!;
    expect((await download(view, "PinkFox")).status).toBe(200);
    const theirs = sent.deliveries[0]!.payload.attachments[0]!;
    expect(theirs.sha256).toBe(view.sha256);
    expect((await download(theirs, "PinkFox")).status).toBe(404);
  });

  it("answers GET only, and a path that is not {message_id}/{sha256} is no route", async () => {
    const view = sent.deliveries[0]!.payload.attachments[0]!;
    const url = new URL(`${view.uri.replace("resource://attachment/", "/api/attachments/")}?${viewerQuery("BlueDog")}`, server.url);
    expect((await fetch(url, { method: "DELETE" })).status).toBe(405);
    expect((await fetch(new URL(`/api/attachments/1?${viewerQuery("BlueDog")}`, server.url))).status).toBe(404);
    const badSha = await fetch(new URL(`/api/attachments/1/nothex?${viewerQuery("BlueDog")}`, server.url));
    expect(badSha.status).toBe(400);
    expect(((await badSha.json()) as { error: { message: string } }).error.message).toContain("sha256");
  });

  it("is listed as a resource template", async () => {
    const templates = await client.listResourceTemplates();
    expect(templates.resourceTemplates.map((template) => template.uriTemplate)).toContain("resource://attachment/{message_id}/{sha256}");
  });
});

describe("dangerous content", () => {
  it("serves HTML and SVG as downloads under a sandbox CSP with nosniff, never as part of the app", async () => {
    const html = Buffer.from("<!doctype html><script>fetch('/api/trpc/projects.list')</script>");
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>');
    const sent = await send("GreenLake", { attachments: [file("page.html", "text/html", html), file("logo.svg", "image/svg+xml", svg)] });
    for (const [index, data] of [html, svg].entries()) {
      const view = sent.deliveries[0]!.payload.attachments[index]!;
      const response = await download(view, "BlueDog");
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(data)).toBe(true);
      expect(response.headers.get("content-type")).toBe(view.media_type);
      expect(response.headers.get("content-security-policy")).toMatch(/(^|;\s*)sandbox(;|$)/);
      expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("content-disposition")).toMatch(/^attachment;/);
    }
  });

  it("keeps only a safe base name: no directories, no leading dots, no control characters", async () => {
    const names = ["../../etc/.passwd", "C:\\Windows\\evil.dll", "..\\..\\.ssh\\id_rsa", "report\u202Etxt.exe", "  .hidden  ", "a<b>c:d.txt"];
    const sent = await send("GreenLake", { attachments: names.map((name, index) => file(name, "text/plain", Buffer.from(`file ${index}`))) });
    expect(sent.deliveries[0]!.payload.attachments.map((item) => item.name)).toEqual(["passwd", "evil.dll", "id_rsa", "reporttxt.exe", "hidden", "a_b_c_d.txt"]);
  });
});

describe("refusals name the field and write nothing", () => {
  async function refusedWithoutWrites(args: Record<string, unknown>): Promise<string> {
    const before = await tableDigest(db);
    const text = await sendError("GreenLake", args);
    expect(await tableDigest(db)).toEqual(before);
    return text;
  }

  it("a file over ATTACHMENT_MAX_BYTES", async () => {
    const text = await refusedWithoutWrites({ attachments: [file("ok.txt", "text/plain", TEXT), file("big.bin", "application/octet-stream", Buffer.alloc(64 * KIB + 1))] });
    expect(text).toMatch(/^PAYLOAD_TOO_LARGE: attachments\[1\]\.content_base64: .* 65537 bytes; the limit is 65536 bytes \(ATTACHMENT_MAX_BYTES\)/);
  });

  it("a message over ATTACHMENTS_MAX_TOTAL_BYTES", async () => {
    const parts = Array.from({ length: 5 }, (_, index) => file(`part${index}.bin`, "application/octet-stream", Buffer.alloc(60 * KIB, index)));
    const text = await refusedWithoutWrites({ attachments: parts });
    expect(text).toMatch(/^PAYLOAD_TOO_LARGE: attachments: .* 307200 bytes; the limit is 262144 bytes \(ATTACHMENTS_MAX_TOTAL_BYTES\)/);
  });

  it("more than 20 attachments, alone or with attachment_paths", async () => {
    const many = Array.from({ length: 21 }, (_, index) => file(`n${index}.txt`, "text/plain", Buffer.from(String(index))));
    expect(await refusedWithoutWrites({ attachments: many })).toMatch(/^INVALID_ARGUMENT: Invalid arguments for send_message: attachments: at most 20 attachments per message/);
    const mixed = await refusedWithoutWrites({ attachments: many.slice(0, 15), attachment_paths: Array.from({ length: 6 }, () => "docs/report.md") });
    expect(mixed).toMatch(/^INVALID_ARGUMENT: attachments: 21 attachments; at most 20 per message/);
  });

  it("content that is not strict base64", async () => {
    for (const content of ["abc", "QR==", "YWJj\n", "YW Jj", "YWJj-_==", "=YWJ", "YQ"]) {
      const text = await refusedWithoutWrites({ attachments: [file("ok.txt", "text/plain", TEXT), { name: "x.bin", media_type: "application/octet-stream", content_base64: content }] });
      expect([content, text]).toEqual([content, expect.stringMatching(/^INVALID_ARGUMENT: attachments\[1\]\.content_base64: /)]);
    }
  });

  it("a name with nothing left, and a media type that is not type/subtype", async () => {
    for (const name of ["..", "a/b/", " . ", "\u202E"]) {
      const text = await refusedWithoutWrites({ attachments: [{ name, media_type: "text/plain", content_base64: "" }] });
      expect([name, text]).toEqual([name, expect.stringMatching(/^INVALID_ARGUMENT: attachments\[0\]\.name: /)]);
    }
    for (const mediaType of ["text", "text/", "/plain", "text/plain; charset=utf-8", "text/html\r\nx-evil: 1", "te xt/plain"]) {
      const text = await refusedWithoutWrites({ attachments: [{ name: "a.txt", media_type: mediaType, content_base64: "" }] });
      expect([mediaType, text]).toEqual([mediaType, expect.stringMatching(/^INVALID_ARGUMENT: attachments\[0\]\.media_type: /)]);
    }
  });

  it("a refusal after the attachments were read (unknown recipient) writes no blob either", async () => {
    const text = await refusedWithoutWrites({ to: ["NavyCrane"], attachments: [file("orphan.txt", "text/plain", Buffer.from("never stored"))] });
    expect(text).toMatch(/^RECIPIENT_NOT_FOUND/);
    expect(await blobCount(sha(Buffer.from("never stored")))).toBe(0);
  });
});

describe("storage", () => {
  it("stores each content once: twice in one message, and again in another message", async () => {
    const data = Buffer.from("deduplicate me please");
    const first = await send("GreenLake", { attachments: [file("a.txt", "text/plain", data), file("b.txt", "text/plain", data)] });
    const second = await send("BlueDog", { to: ["GreenLake"], attachments: [file("c.txt", "text/plain", data)] });
    expect(first.deliveries[0]!.payload.attachments.map((item) => item.sha256)).toEqual([sha(data), sha(data)]);
    expect(second.deliveries[0]!.payload.attachments[0]!.sha256).toBe(sha(data));
    expect(await blobCount(sha(data))).toBe(1);
    expect(Buffer.from(await (await download(second.deliveries[0]!.payload.attachments[0]!, "GreenLake")).arrayBuffer()).equals(data)).toBe(true);
  });

  it("delivers across projects: every delivered row carries the metadata, each side reads its own row", async () => {
    const data = Buffer.from("for both projects");
    const sent = await send("GreenLake", { to: ["BlueDog", `SilverWolf@${OTHER_KEY}`], attachments: [file("shared.txt", "text/plain", data)] });
    expect(sent.count).toBe(2);
    const [local, remote] = sent.deliveries.map((delivery) => delivery.payload);
    for (const payload of [local!, remote!]) {
      expect(payload.attachments).toEqual([{ name: "shared.txt", media_type: "text/plain", bytes: data.length, sha256: sha(data), uri: `resource://attachment/${payload.id}/${sha(data)}` }]);
      const row = await db.prisma.message.findUniqueOrThrow({ where: { id: payload.id } });
      expect(row.attachments).toEqual([{ name: "shared.txt", media_type: "text/plain", bytes: data.length, sha256: sha(data) }]);
    }
    expect(await blobCount(sha(data))).toBe(1);
    const remoteView = remote!.attachments[0]!;
    expect(Buffer.from((await readResource(remoteView.uri, "SilverWolf", OTHER_KEY)).content_base64, "base64").equals(data)).toBe(true);
    // The sender proves itself in its own project and reads the row delivered into the other one.
    expect((await download(remoteView, "GreenLake")).status).toBe(200);
    expect((await download(local!.attachments[0]!, "SilverWolf", OTHER_KEY)).status).toBe(404);
  });

  it("reply_message takes attachments too; an idempotent replay lists them again", async () => {
    const data = Buffer.from("reply file");
    const original = await send("GreenLake", {});
    const reply = await callOk<Payload & { deliveries: SendResult["deliveries"] }>(client, "reply_message", {
      project_key: project.slug,
      message_id: original.deliveries[0]!.payload.id,
      sender_name: "BlueDog",
      sender_token: agents.BlueDog!.token,
      body_md: "attached",
      attachments: [file("reply.txt", "text/plain", data)],
      idempotency_key: "reply-with-file",
    });
    expect(reply.attachments).toEqual(reply.deliveries[0]!.payload.attachments);
    expect(Buffer.from((await readResource(reply.attachments[0]!.uri, "GreenLake")).content_base64, "base64").equals(data)).toBe(true);
    const again = await callOk<SendResult>(client, "reply_message", {
      project_key: project.slug,
      message_id: original.deliveries[0]!.payload.id,
      sender_name: "BlueDog",
      sender_token: agents.BlueDog!.token,
      body_md: "attached",
      attachments: [file("reply.txt", "text/plain", data)],
      idempotency_key: "reply-with-file",
    });
    expect(again.idempotent_replay).toBe(true);
    expect(again.deliveries[0]!.payload.attachments).toEqual(reply.attachments);
  });
});

describe("attachment_paths: files inside the project's directory only", () => {
  it("attaches files inside human_key, relative or absolute, through an inside symlink too", async () => {
    const sent = await send("GreenLake", { attachment_paths: ["docs/report.md", path.join(root, "data.bin"), "alias.md", "./docs/../docs/report.md"] });
    const views = sent.deliveries[0]!.payload.attachments;
    expect(views.map((view) => [view.name, view.media_type])).toEqual([
      ["report.md", "text/markdown"],
      ["data.bin", "application/octet-stream"],
      ["alias.md", "text/markdown"],
      ["report.md", "text/markdown"],
    ]);
    const response = await download(views[1]!, "BlueDog");
    expect(Buffer.from(await response.arrayBuffer()).equals(BINARY)).toBe(true);
    expect((await readResource(views[0]!.uri, "BlueDog")).content_base64).toBe(b64(Buffer.from("# Report\n\nAll green.\n")));
  });

  it("refuses paths that resolve outside it: .., absolute, a symlink out, a directory symlinked out", async () => {
    const secret = path.join(outside, "secret.txt");
    const relativeOut = path.relative(root, secret);
    for (const entry of [relativeOut, secret, "leak.txt", "outside-dir/secret.txt", "docs/../../outside/secret.txt", "/etc/passwd"]) {
      const before = await tableDigest(db);
      const text = await sendError("GreenLake", { attachment_paths: ["docs/report.md", entry] });
      expect([entry, text]).toEqual([entry, expect.stringMatching(/^INVALID_ARGUMENT: attachment_paths\[1\]: .* is outside the project's directory/)]);
      // Where a link points is the server's business: only what the caller gave is repeated.
      if (!entry.startsWith(outside)) expect(text).not.toContain(outside);
      expect(await tableDigest(db)).toEqual(before);
    }
  });

  it("refuses directories, missing files, files over the limit and empty entries, naming the entry", async () => {
    const cases: [string, RegExp][] = [
      ["docs", /^INVALID_ARGUMENT: attachment_paths\[0\]: 'docs' is not a regular file/],
      [".", /^INVALID_ARGUMENT: attachment_paths\[0\]: /],
      ["nope.txt", /^INVALID_ARGUMENT: attachment_paths\[0\]: 'nope.txt' does not exist/],
      ["big.txt", /^PAYLOAD_TOO_LARGE: attachment_paths\[0\]: 'big.txt' is 65537 bytes; the limit is 65536 bytes \(ATTACHMENT_MAX_BYTES\)/],
      ["  ", /^INVALID_ARGUMENT: attachment_paths\[0\]: is empty/],
    ];
    for (const [entry, expected] of cases) {
      const before = await tableDigest(db);
      expect([entry, await sendError("GreenLake", { attachment_paths: [entry] })]).toEqual([entry, expect.stringMatching(expected)]);
      expect(await tableDigest(db)).toEqual(before);
    }
  });

  it("refuses every path when the project's human_key is not a directory on this server", async () => {
    const text = await callError(client, "send_message", {
      project_key: OTHER_KEY,
      sender_name: "SilverWolf",
      sender_token: agents.SilverWolf!.token,
      to: ["SilverWolf"],
      subject: "x",
      body_md: "x",
      attachment_paths: ["README.md"],
    });
    expect(text).toMatch(/^INVALID_ARGUMENT: attachment_paths: the project's human_key is not a directory on this server/);
  });
});

describe("deleting messages deletes the blobs nothing refers to any more", () => {
  it("hard_delete_agent removes its unique blobs and keeps the shared ones", async () => {
    const unique = Buffer.from("only TealOwl sent this");
    const shared = Buffer.from("TealOwl and GreenLake both sent this");
    await send("TealOwl", { attachments: [file("u.txt", "text/plain", unique), file("s.txt", "text/plain", shared)] });
    const kept = await send("GreenLake", { attachments: [file("s.txt", "text/plain", shared)] });
    expect([await blobCount(sha(unique)), await blobCount(sha(shared))]).toEqual([1, 1]);
    await callOk(client, "hard_delete_agent", { project_key: project.slug, agent_name: "TealOwl", confirmation: "I UNDERSTAND" });
    expect([await blobCount(sha(unique)), await blobCount(sha(shared))]).toEqual([0, 1]);
    expect((await download(kept.deliveries[0]!.payload.attachments[0]!, "BlueDog")).status).toBe(200);
  });

  it("hard_delete_project and purge_old_messages do the same", async () => {
    const key = "/attachments/doomed";
    await callOk(client, "ensure_project", { human_key: key });
    const lone = await register(key, "CopperElk");
    const data = Buffer.from("only in the doomed project");
    await callOk(client, "send_message", { project_key: key, sender_name: "CopperElk", sender_token: lone.token, to: ["CopperElk"], subject: "x", body_md: "x", attachments: [file("d.txt", "text/plain", data)] });
    expect(await blobCount(sha(data))).toBe(1);
    await callOk(client, "hard_delete_project", { project_key: key, confirmation: "I UNDERSTAND" });
    expect(await blobCount(sha(data))).toBe(0);

    const old = Buffer.from("an old file");
    const sent = await send("GreenLake", { attachments: [file("old.txt", "text/plain", old)] });
    await db.prisma.message.update({ where: { id: sent.deliveries[0]!.payload.id }, data: { createdTs: new Date("2000-01-01T00:00:00Z") } });
    expect(await callOk(client, "purge_old_messages", { project_key: project.slug, max_age_days: 3650, dry_run: false })).toMatchObject({ messages_affected: 1 });
    expect(await blobCount(sha(old))).toBe(0);
  });
});

// Two connections at once exist only on Postgres (PGlite runs one transaction at a time).
describe.skipIf(!process.env.TEST_DATABASE_URL)("a cleanup racing a send that reuses a blob", () => {
  it("waits for the send to commit, then keeps the blob the send refers to", async () => {
    const data = Buffer.from("reused while its last message is being deleted");
    await register(project.slug, "AmberElk").then((agent) => (agents.AmberElk = agent));
    await send("AmberElk", { attachments: [file("r.txt", "text/plain", data)] });
    const sender = await db.prisma.agent.findFirstOrThrow({ where: { name: "GreenLake", project: { humanKey: root } } });
    const recipient = await db.prisma.agent.findFirstOrThrow({ where: { name: "BlueDog", project: { humanKey: root } } });
    const meta = { name: "r.txt", media_type: "text/plain", bytes: data.length, sha256: sha(data) };

    // A send's write, exactly as deliver() makes it, held open before its commit.
    let inserted!: () => void;
    const written = new Promise<void>((resolve) => (inserted = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sending = db.prisma.$transaction(
      async (tx) => {
        await storeBlobs(tx, [{ meta, data }]);
        const rows = await insertMessages(tx, {
          senderId: sender.id, threadId: null, topic: null, subject: "reuse", bodyMd: "reuse", importance: "normal", ackRequired: false,
          deliveries: [{ projectId: sender.projectId, recipients: [{ agentId: recipient.id, kind: "to" }] }],
          attachments: [meta],
        });
        inserted();
        await gate;
        return rows;
      },
      { timeout: 60_000 },
    );
    await written;
    // AmberElk's message was the blob's only committed reference: deleting the agent makes it look unreferenced.
    const deleting = callOk(client, "hard_delete_agent", { project_key: project.slug, agent_name: "AmberElk", confirmation: "I UNDERSTAND" });
    // The cleanup must queue behind the send's shared lock; give it the chance to be seen waiting.
    for (let attempt = 0; attempt < 200; attempt++) {
      const [row] = await db.prisma.$queryRaw<{ waiting: number }[]>`SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`;
      if (row!.waiting > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    release();
    const [message] = await sending;
    await deleting;
    expect(await blobCount(sha(data))).toBe(1);
    const view = { uri: `resource://attachment/${message!.id}/${sha(data)}` };
    expect(Buffer.from(await (await download(view, "BlueDog")).arrayBuffer()).equals(data)).toBe(true);
  });
});

describe("contracts", () => {
  it("payloads with attachments match the output schemas; the matrix sample reads as a reader", async () => {
    const sent = await send("GreenLake", { attachments: [file("c.bin", "application/octet-stream", BINARY)] });
    expect(sendMessage.output.safeParse(sent).error).toBeUndefined();
    const payload = sent.deliveries[0]!.payload;
    // MCP carries a list result as {result: [...]}.
    const inbox = await callOk<{ result: unknown }>(client, "fetch_inbox", { project_key: project.slug, agent_name: "BlueDog", registration_token: agents.BlueDog!.token });
    expect(fetchInbox.output.safeParse(inbox.result).error).toBeUndefined();
    const reply = await callOk(client, "reply_message", {
      project_key: project.slug,
      message_id: payload.id,
      sender_name: "BlueDog",
      sender_token: agents.BlueDog!.token,
      body_md: "ok",
      attachments: [file("r.txt", "text/plain", TEXT)],
    });
    expect(replyMessage.output.safeParse(reply).error).toBeUndefined();

    const reader = { ...serviceContext(db), actor: actorFor("reader") };
    const viewer = { project: project.slug, agent: "BlueDog", agent_token: agents.BlueDog!.token };
    expect(messageResource.output.safeParse(await invoke(messageResource, reader, { ...viewer, message_id: String(payload.id) })).error).toBeUndefined();
    const read = await invoke(attachmentResource, reader, { ...viewer, message_id: String(payload.id), sha256: sha(BINARY) });
    expect(attachmentResource.output.safeParse(read).error).toBeUndefined();

    const { inputs } = await attachmentSamples.samples({
      db,
      ctx: serviceContext(db),
      projectKey: project.slug,
      agents: { GreenLake: { ...agents.GreenLake!, id: 0 }, BlueDog: { ...agents.BlueDog!, id: 0 } },
      messageId: payload.id,
      threadId: String(payload.id),
    });
    const sample = await invoke(attachmentResource, reader, inputs["resource://attachment"]);
    expect(attachmentResource.output.safeParse(sample).error).toBeUndefined();
    expect(Buffer.from(sample.content_base64, "base64").toString()).toBe("matrix notes\n");
    // The same read as a tRPC query (mailbox.attachment), the matrix's other surface.
    const url = new URL("/api/trpc/mailbox.attachment", server.url);
    url.searchParams.set("input", JSON.stringify(inputs["resource://attachment"]));
    const body = (await (await fetch(url)).json()) as { result: { data: unknown } };
    expect(attachmentResource.output.safeParse(body.result.data).error).toBeUndefined();
  });
});
