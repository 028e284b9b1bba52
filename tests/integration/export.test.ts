import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import vm from "node:vm";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "@/server/db/client";
import { AppError } from "@/server/errors";
import { exportProject, type ExportManifest } from "@/server/export/export";
import { compileExtraPattern } from "@/server/export/scrub";
import { DATA_BLOCKS, VIEWER_SCRIPT_ID } from "@/server/export/viewer";
import { invoke } from "@/server/operations/invoke";
import { replyMessageInput, sendMessageInput } from "@/server/schemas/messages";
import type { ServiceContext } from "@/server/services/context";
import { replyMessage } from "@/server/services/messages/reply";
import { sendMessage } from "@/server/services/messages/send";
import { CHROMIUM_PATH, launchChromium } from "../e2e/support/browser";
import { serviceContext } from "../helpers/context";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents, type TestAgent } from "../helpers/mail";

// `mailroom export` end to end on a real database (PGlite in a data directory of its own, or a
// fresh Postgres database with TEST_DATABASE_URL): mail with secrets and attachments is sent
// through the services, exported by the function and by the real command in a child process, and
// every file of the bundle is searched for the secrets. The viewer's own script is run against
// the exported page with a minimal DOM to check what it renders.

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "mailroom.mjs");
const MAIN = "/export-main";
const OTHER = "/export-other";

const SECRETS = {
  bearer: "Bearer b3ar3rT0ken.Value-xyz",
  bearerCredential: "b3ar3rT0ken.Value-xyz",
  openai: "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv",
  github: `ghp_${"q9W8".repeat(9)}`,
  aws: "AKIAIOSFODNN7EXAMPLE",
  jwt: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
  password: "Sup3rS3cretPass",
  custom: "ACME-123456",
  slack: "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp",
};
const NAMES = ["GreenLake", "BlueDog", "RedFox", "SilverHawk"];

let database: Database;
let dataDir: string | undefined;
let work: string;
let agents: { GreenLake: TestAgent; BlueDog: TestAgent; RedFox: TestAgent };
let outsider: TestAgent;
let ctx: ServiceContext;
/** Every token and key that went into a body, a subject or an attachment. */
let secrets: string[];
const ids = { plan: 0, reply: 0, bcc: 0, external: 0 };
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), Buffer.from("IHDR binary\u0000\u00ff")]);
let notesText: string;

function b64(data: string | Buffer): string {
  return Buffer.from(data).toString("base64");
}

async function send(input: Record<string, unknown>) {
  const result = await invoke(sendMessage, ctx, sendMessageInput.parse({ project_key: MAIN, ...input }));
  return result.deliveries[0]!.payload.id as number;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "mailroom-export-"));
  if (process.env.TEST_DATABASE_URL) {
    database = await openTestDatabase();
  } else {
    // A data directory (not memory://) so that the command in a child process can open it later.
    dataDir = path.join(work, "data");
    database = await openDatabase({ dataDir, migrate: true });
  }
  const main = (await projectWithAgents(database, MAIN, ["GreenLake", "BlueDog", "RedFox"])).agents;
  agents = { GreenLake: main.GreenLake!, BlueDog: main.BlueDog!, RedFox: main.RedFox! };
  outsider = (await projectWithAgents(database, OTHER, ["SilverHawk"])).agents.SilverHawk!;
  ctx = serviceContext(database);
  const { GreenLake, BlueDog, RedFox } = agents;
  notesText = `Notes for BlueDog\nGITHUB_TOKEN=${SECRETS.github}\nBlueDog's token: ${BlueDog.token}\n`;

  ids.plan = await send({
    sender_name: "GreenLake",
    sender_token: GreenLake.token,
    to: ["BlueDog"],
    cc: ["RedFox"],
    subject: "Deploy plan for bluedog <b>now</b>",
    body_md: [
      "# Plan",
      "",
      `Use my token ${GreenLake.token} for the call, header \`Authorization: ${SECRETS.bearer}\`.`,
      `OpenAI key ${SECRETS.openai}, AWS ${SECRETS.aws}, session ${SECRETS.jwt}.`,
      `password=${SECRETS.password} and ticket ${SECRETS.custom}; slack ${SECRETS.slack}`,
      "",
      "- ask bluedog and RedFox",
      "- keep the tokenizer settings (max_tokens: 4096)",
    ].join("\n"),
    attachments: [
      { name: "notes.txt", media_type: "text/plain", content_base64: b64(notesText) },
      { name: "diagram.png", media_type: "image/png", content_base64: b64(PNG) },
    ],
  });
  ids.reply = (
    await invoke(
      replyMessage,
      ctx,
      replyMessageInput.parse({
        project_key: MAIN,
        message_id: ids.plan,
        sender_name: "BlueDog",
        sender_token: BlueDog.token,
        body_md: [
          '<script>alert("pwned")</script>',
          "<img src=x onerror=alert(1)>",
          "[click me](javascript:alert%281%29) [inline](data:text/html;base64,PHNjcmlwdD4=) [local](file:///etc/passwd) [relative](../up)",
          "and [docs](https://example.com/docs) and [mail](mailto:ops@example.com)",
          `RedFox said his token is ${RedFox.token}`,
          "```",
          "</script><script>alert(2)</script>",
          "```",
        ].join("\n"),
      }),
    )
  ).deliveries[0]!.payload.id as number;
  ids.bcc = await send({
    sender_name: "RedFox",
    sender_token: RedFox.token,
    to: ["GreenLake"],
    bcc: ["BlueDog"],
    subject: "Quiet note",
    body_md: "Just between us.",
  });
  ids.external = (
    await invoke(
      sendMessage,
      ctx,
      sendMessageInput.parse({
        project_key: OTHER,
        sender_name: "SilverHawk",
        sender_token: outsider.token,
        to: [`GreenLake@${MAIN}`],
        subject: "From next door",
        body_md: `Hello GreenLake, my key is ${SECRETS.github}`,
      }),
    )
  ).deliveries[0]!.payload.id as number;
  // Mail of the other project only: never in MAIN's export.
  await invoke(
    sendMessage,
    ctx,
    sendMessageInput.parse({ project_key: OTHER, sender_name: "SilverHawk", sender_token: outsider.token, to: ["SilverHawk"], subject: "Private elsewhere", body_md: "not exported" }),
  );
  secrets = [
    ...Object.values(SECRETS),
    ...Object.values(agents).map((agent) => agent.token),
    outsider.token,
  ];
});

afterAll(async () => {
  await database?.close().catch(() => {});
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Every file under dir, relative paths with `/`. */
function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

function readJson<T>(dir: string, file: string): T {
  return JSON.parse(readFileSync(path.join(dir, file), "utf8")) as T;
}

/** Asserts that no secret appears in any file of the bundle, as text or bytes. */
function expectNoSecrets(dir: string) {
  const files = listFiles(dir);
  expect(files.length).toBeGreaterThan(4);
  for (const file of files) {
    const content = readFileSync(path.join(dir, file)).toString("latin1");
    for (const secret of secrets) expect(content.includes(secret), `${secret} found in ${file}`).toBe(false);
  }
}

interface ExportedMessage {
  id: number;
  thread_id: string | null;
  subject: string;
  from: string;
  from_project?: string;
  body_md: string;
  recipients: Array<{ name: string; kind: string; read_ts: string | null; ack_ts: string | null }>;
  attachments: Array<{ name: string; media_type: string; bytes: number; sha256: string; file: string | null; scrubbed?: boolean }>;
}

function exportTo(name: string, options: { pseudonymize?: boolean } = {}) {
  return exportProject(ctx, { project: MAIN, out: path.join(work, name), extraPatterns: [compileExtraPattern("ACME-[0-9]{6}")], ...options });
}

describe("the bundle", () => {
  let out: string;
  let manifest: ExportManifest;
  let messages: ExportedMessage[];

  beforeAll(async () => {
    ({ out, manifest } = await exportTo("plain"));
    messages = readJson<ExportedMessage[]>(out, "messages.json");
  });

  it("holds the project's messages only, with recipients, in id order", () => {
    expect(messages.map((message) => message.id)).toEqual([ids.plan, ids.reply, ids.bcc, ids.external].sort((a, b) => a - b));
    const plan = messages.find((message) => message.id === ids.plan)!;
    expect(plan.from).toBe("GreenLake");
    expect(plan.recipients.map((r) => [r.name, r.kind])).toEqual([
      ["BlueDog", "to"],
      ["RedFox", "cc"],
    ]);
    expect(messages.find((message) => message.id === ids.reply)!.thread_id).toBe(String(ids.plan));
    expect(messages.find((message) => message.id === ids.bcc)!.recipients.map((r) => [r.name, r.kind])).toEqual([
      ["GreenLake", "to"],
      ["BlueDog", "bcc"],
    ]);
    const external = messages.find((message) => message.id === ids.external)!;
    expect(external).toMatchObject({ from: "SilverHawk", from_project: "export-other" });
    expect(JSON.stringify(messages)).not.toContain("Private elsewhere");
    expect(manifest.counts).toEqual({ messages: 4, threads: 3, agents: 4, attachments: 2, attachments_missing: 0, attachments_invalid: 0 });
    const agentList = readJson<Array<{ name: string; project?: string }>>(out, "agents.json");
    expect(agentList.map((agent) => agent.name)).toEqual(NAMES);
    expect(agentList[3]).toMatchObject({ name: "SilverHawk", project: "export-other" });
  });

  it("contains no token or key that was in a body, subject or attachment, in any file", () => {
    expectNoSecrets(out);
    const plan = messages.find((message) => message.id === ids.plan)!;
    for (const marker of ["registration_token", "bearer_token", "api_key", "jwt", "secret", "custom"]) {
      expect(plan.body_md).toContain(`[REDACTED:${marker}]`);
    }
    // Prose around the secrets is kept.
    expect(plan.body_md).toContain("keep the tokenizer settings (max_tokens: 4096)");
    // Plan: 1 token, bearer, 3 keys, JWT, password, ticket; reply: 1 token; external: 1 key; notes.txt: 1 key, 1 token.
    expect(manifest.scrubbed.by_kind).toEqual({ bearer_token: 1, api_key: 5, jwt: 1, registration_token: 3, secret: 1, custom: 1 });
    expect(manifest.scrubbed.by_field).toMatchObject({ body_md: 10, attachment_content: 2, subject: 0 });
    expect(manifest.scrubbed.total).toBe(12);
    expect(manifest.scrubbed.messages_affected).toBe(3);
  });

  it("lists every file with its size and sha256, and names files only by hash and a sanitised extension", () => {
    const listed = manifest.files.map((file) => file.path);
    expect(listFiles(out).sort()).toEqual([...listed, "manifest.json"].sort());
    for (const file of manifest.files) {
      const data = readFileSync(path.join(out, file.path));
      expect(file.bytes).toBe(data.byteLength);
      expect(file.sha256).toBe(createHash("sha256").update(data).digest("hex"));
    }
    expect(readJson<ExportManifest>(out, "manifest.json")).toEqual(manifest);
    const attachmentFiles = listed.filter((file) => file.startsWith("attachments/"));
    expect(attachmentFiles).toHaveLength(2);
    for (const file of attachmentFiles) expect(file).toMatch(/^attachments\/[0-9a-f]{64}\.(txt|png)$/);
  });

  it("copies binary attachments byte for byte and scrubs text attachments", () => {
    const plan = messages.find((message) => message.id === ids.plan)!;
    const [notes, png] = plan.attachments;
    expect(png).toMatchObject({ name: "diagram.png", media_type: "image/png", bytes: PNG.byteLength });
    expect(readFileSync(path.join(out, "attachments", png!.file!)).equals(PNG)).toBe(true);
    expect(notes).toMatchObject({ name: "notes.txt", media_type: "text/plain", scrubbed: true });
    const text = readFileSync(path.join(out, "attachments", notes!.file!), "utf8");
    expect(text).toBe("Notes for BlueDog\nGITHUB_TOKEN=[REDACTED:api_key]\nBlueDog's token: [REDACTED:registration_token]\n");
    expect(notes!.sha256).toBe(createHash("sha256").update(text).digest("hex"));
    expect(manifest.scrubbed.attachments_changed).toEqual([`attachments/${notes!.file}`]);
  });

  it("index.html loads nothing from outside: no external src/href, a CSP that allows no network", () => {
    const html = readFileSync(path.join(out, "index.html"), "utf8");
    expect(html).not.toMatch(/\b(?:src|href|action|srcset|poster|data|formaction)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    expect(style).not.toMatch(/@import|url\s*\(/i);
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+'; img-src 'none'/);
    // The JSON blocks and the viewer: no other script element, and none from a message.
    expect(html.match(/<script\b/g)).toHaveLength(4);
    expect(html).not.toContain('<script>alert("pwned")');
    expect(html).not.toContain("</script><script>alert(2)");
    expect(html).not.toContain("<img src=x");
  });

  it("the page's CSP hash is the viewer script's (the browser would refuse to run it otherwise)", () => {
    const html = readFileSync(path.join(out, "index.html"), "utf8");
    const script = new RegExp(`<script id="${VIEWER_SCRIPT_ID}">([\\s\\S]*?)</script>`).exec(html)![1]!;
    const hash = createHash("sha256").update(script).digest("base64");
    expect(html).toContain(`script-src 'sha256-${hash}'`);
  });
});

/** Runs the exported page's viewer script against a minimal DOM, as a browser would on load. */
function runViewer(html: string) {
  const blocks = new Map<string, string>();
  for (const match of html.matchAll(/<script type="application\/json" id="([^"]+)">([\s\S]*?)<\/script>/g)) blocks.set(match[1]!, match[2]!);
  const script = new RegExp(`<script id="${VIEWER_SCRIPT_ID}">([\\s\\S]*?)</script>`).exec(html)![1]!;
  const listeners: Record<string, () => void> = {};
  const element = () => ({
    innerHTML: "",
    textContent: "",
    value: "",
    listeners: {} as Record<string, () => void>,
    addEventListener(type: string, fn: () => void) {
      this.listeners[type] = fn;
    },
  });
  const elements = { list: element(), view: element(), search: element(), status: element() };
  const location = { hash: "" };
  const document = {
    title: "",
    getElementById(id: string) {
      if (blocks.has(id)) return { textContent: blocks.get(id) };
      return (elements as Record<string, unknown>)[id];
    },
  };
  vm.runInNewContext(script, { document, location, window: { addEventListener: (type: string, fn: () => void) => (listeners[type] = fn) } });
  return {
    elements,
    go(hash: string) {
      location.hash = hash;
      listeners.hashchange!();
      return elements.view.innerHTML;
    },
    search(text: string) {
      elements.search.value = text;
      elements.search.listeners.input!();
      return elements.list.innerHTML;
    },
  };
}

describe("the viewer", () => {
  let html: string;
  beforeAll(async () => {
    const { out } = await exportTo("viewer");
    html = readFileSync(path.join(out, "index.html"), "utf8");
  });

  it("embeds the data with <, > and & escaped, so no message text can close its block", () => {
    for (const id of Object.values(DATA_BLOCKS)) expect(html).toContain(`<script type="application/json" id="${id}">`);
    expect(html).toContain("\\u003cscript\\u003ealert(\\\"pwned\\\")\\u003c/script\\u003e");
  });

  it("lists threads and shows a message with a <script> body as text", () => {
    const page = runViewer(html);
    expect(page.elements.status.textContent).toBe("3 threads, 4 messages");
    expect(page.elements.list.innerHTML).toContain("Deploy plan for bluedog &lt;b&gt;now&lt;/b&gt;");
    expect(page.elements.list.innerHTML).not.toContain("<b>");
    const view = page.go(`#m-${ids.reply}`);
    // Both messages of the thread, the reply focused.
    expect(view).toContain(`<article id="msg-${ids.plan}">`);
    expect(view).toContain(`<article id="msg-${ids.reply}" class="focus">`);
    expect(view).toContain("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;");
    expect(view).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(view).toContain("<pre><code>&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;</code></pre>");
    expect(view).not.toMatch(/<script|<img|<[a-z][^>]*\son\w+\s*=/i);
  });

  it("links only http, https and mailto URLs", () => {
    const page = runViewer(html).go(`#m-${ids.reply}`);
    const view = page.slice(page.indexOf(`<article id="msg-${ids.reply}"`));
    expect(view).toContain('<a href="https://example.com/docs" rel="noopener noreferrer nofollow" target="_blank">docs</a>');
    expect(view).toContain('<a href="mailto:ops@example.com" rel="noopener noreferrer nofollow" target="_blank">mail</a>');
    expect(view).toContain("<p>&lt;script&gt;");
    expect(view).toContain("<br>click me inline local relative<br>and ");
    expect(view.match(/<a href=/g)).toHaveLength(2);
  });

  it("renders Markdown headings and lists, and links attachments to their bundle files", () => {
    const view = runViewer(html).go(`#m-${ids.plan}`);
    expect(view).toContain("<h1>Plan</h1>");
    expect(view).toContain("<ul>\n<li>ask bluedog and RedFox</li>");
    expect(view).toMatch(/<a href="attachments\/[0-9a-f]{64}\.png" download="diagram\.png">diagram\.png \(image\/png, \d+ bytes\)<\/a>/);
  });

  it("searches subjects, bodies and names", () => {
    const page = runViewer(html);
    expect(page.search("next door")).toContain(`#m-${ids.external}`);
    expect(page.elements.status.textContent).toBe("1 match");
    expect(page.search("silverhawk hello")).toContain(`#m-${ids.external}`);
    page.search("no-such-words-anywhere");
    expect(page.elements.status.textContent).toBe("0 matches");
  });
});

// The real thing where Chromium is installed (CI installs it for the e2e tests): the page from
// file://, its script allowed by its own CSP hash, no request but the page itself, no dialog.
describe.skipIf(!existsSync(CHROMIUM_PATH))("the viewer in Chromium", () => {
  it("runs under its CSP from file://, loads nothing else and shows hostile bodies as text", async () => {
    const { out } = await exportTo("browser");
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      const problems: string[] = [];
      page.on("request", (request) => requests.push(request.url()));
      page.on("console", (message) => {
        if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
      });
      page.on("pageerror", (error) => problems.push(error.message));
      page.on("dialog", (dialog) => {
        problems.push(`dialog: ${dialog.message()}`);
        void dialog.dismiss();
      });
      const url = pathToFileURL(path.join(out, "index.html")).href;
      await page.goto(url);
      expect(await page.textContent("#status")).toBe("3 threads, 4 messages");
      expect(await page.locator("#list li").count()).toBe(3);

      await page.evaluate((hash) => (location.hash = hash), `#m-${ids.reply}`);
      const reply = page.locator(`#msg-${ids.reply}`);
      await reply.waitFor();
      expect(await reply.getAttribute("class")).toBe("focus");
      const text = await reply.locator(".body").textContent();
      expect(text).toContain('<script>alert("pwned")</script>');
      expect(text).toContain("<img src=x onerror=alert(1)>");
      expect(await page.locator("#view script, #view img, #view iframe").count()).toBe(0);
      const hrefs = await reply.locator(".body a").evaluateAll((links) => links.map((link) => link.getAttribute("href")));
      expect(hrefs).toEqual(["https://example.com/docs", "mailto:ops@example.com"]);

      await page.fill("#search", "next door");
      expect(await page.textContent("#status")).toBe("1 match");
      expect(problems).toEqual([]);
      expect(requests.map((request) => request.split("#")[0])).toEqual([url]);
    } finally {
      await browser.close();
    }
  });
});

describe("pseudonymisation", () => {
  let out: string;
  let manifest: ExportManifest;
  beforeAll(async () => {
    ({ out, manifest } = await exportTo("pseudonymous", { pseudonymize: true }));
  });

  it("no agent name remains in any file, in any case", () => {
    for (const file of listFiles(out)) {
      const content = readFileSync(path.join(out, file)).toString("latin1").toLowerCase();
      for (const name of NAMES) expect(content.includes(name.toLowerCase()), `${name} in ${file}`).toBe(false);
    }
    expectNoSecrets(out);
    expect(manifest.pseudonymized).toBe(true);
    expect(manifest.project).toEqual({ slug: "export-main" });
    expect(readFileSync(path.join(out, "index.html"), "utf8")).not.toContain(MAIN);
  });

  it("names are replaced consistently, numbered by first appearance", () => {
    // GreenLake sends first (Agent-1) to BlueDog (to: Agent-2) and RedFox (cc: Agent-3); SilverHawk writes last.
    const messages = readJson<ExportedMessage[]>(out, "messages.json");
    const plan = messages.find((message) => message.id === ids.plan)!;
    expect(plan.from).toBe("Agent-1");
    expect(plan.recipients.map((r) => r.name)).toEqual(["Agent-2", "Agent-3"]);
    expect(plan.subject).toBe("Deploy plan for Agent-2 <b>now</b>");
    expect(plan.body_md).toContain("- ask Agent-2 and Agent-3");
    expect(messages.find((message) => message.id === ids.reply)!.from).toBe("Agent-2");
    expect(messages.find((message) => message.id === ids.bcc)!.recipients.map((r) => r.name)).toEqual(["Agent-1", "Agent-2"]);
    const external = messages.find((message) => message.id === ids.external)!;
    expect(external.from).toBe("Agent-4");
    expect(external.body_md).toBe("Hello Agent-1, my key is [REDACTED:api_key]");
    expect(readJson<Array<{ name: string }>>(out, "agents.json").map((agent) => agent.name)).toEqual(["Agent-1", "Agent-2", "Agent-3", "Agent-4"]);
    const notes = plan.attachments.find((attachment) => attachment.name === "notes.txt")!;
    expect(readFileSync(path.join(out, "attachments", notes.file!), "utf8")).toMatch(/^Notes for Agent-2\n/);
  });
});

describe("the output directory", () => {
  async function refusal(out: string): Promise<AppError> {
    const error = await exportProject(ctx, { project: MAIN, out }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }

  it("must be new or empty: a directory with a file in it is refused and left as it was", async () => {
    const out = path.join(work, "occupied");
    mkdirSync(out);
    writeFileSync(path.join(out, "keep.txt"), "mine");
    const error = await refusal(out);
    expect(error.code).toBe("CONFLICT");
    expect(error.message).toContain("is not empty");
    expect(readdirSync(out)).toEqual(["keep.txt"]);
  });

  it("a file in its place is refused", async () => {
    const out = path.join(work, "a-file");
    writeFileSync(out, "x");
    expect((await refusal(out)).message).toContain("is not a directory");
    expect(readFileSync(out, "utf8")).toBe("x");
  });

  it("an empty directory is filled; missing parents are created; no staging directory is left behind", async () => {
    const empty = path.join(work, "empty");
    mkdirSync(empty);
    await exportProject(ctx, { project: MAIN, out: empty });
    expect(existsSync(path.join(empty, "manifest.json"))).toBe(true);
    const nested = path.join(work, "deep", "er", "bundle");
    await exportProject(ctx, { project: MAIN, out: nested });
    expect(statSync(nested).isDirectory()).toBe(true);
    expect(readdirSync(work).filter((name) => name.includes(".partial-"))).toEqual([]);
    expect(readdirSync(path.dirname(nested))).toEqual(["bundle"]);
  });

  it("an export that is stopped (Ctrl-C) leaves neither the target nor its staging directory", async () => {
    const out = path.join(work, "stopped");
    const error = await exportProject({ ...ctx, signal: AbortSignal.abort() }, { project: MAIN, out }).catch((caught: unknown) => caught);
    expect((error as Error).name).toBe("AbortError");
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(work).filter((name) => name.includes(".partial-"))).toEqual([]);
  });

  it("an unknown project is reported and nothing is created", async () => {
    const out = path.join(work, "never");
    const error = await exportProject(ctx, { project: "/no/such/project", out }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("NOT_FOUND");
    expect(existsSync(out)).toBe(false);
  });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("the mailroom command", () => {
  let env: NodeJS.ProcessEnv;

  function mailroom(args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      // From an unrelated working directory: the command must find its project by itself.
      execFile(process.execPath, [BIN, ...args], { cwd: tmpdir(), env }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
      });
    });
  }

  function expectOneLineError(run: Run, code: number, text: string) {
    expect(run.code).toBe(code);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain(text);
    expect(run.stderr).not.toMatch(/\n\s+at |Error:/);
  }

  beforeAll(async () => {
    const base: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: "", MAILROOM_MIGRATE_ON_START: "true" };
    delete base.TEST_DATABASE_URL;
    if (dataDir) {
      // The embedded database admits one process: hand it over to the command.
      await database.close();
      env = { ...base, DATA_DIR: dataDir };
    } else {
      env = { ...base, DATABASE_URL: (database as Database & { url?: string }).url };
    }
  });

  it("exports with --json: exit 0, the manifest's summary, a bundle without secrets", async () => {
    const out = path.join(work, "cli");
    const run = await mailroom(["export", "--project", MAIN, "--out", out, "--json", "--pseudonymize", "--scrub-pattern", "ACME-[0-9]{6}"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({
      out,
      format: "mailroom-export",
      version: 1,
      project: { slug: "export-main" },
      pseudonymized: true,
      counts: { messages: 4, threads: 3, agents: 4, attachments: 2 },
      scrubbed: { total: 12, extra_patterns: 1 },
      files: 5,
    });
    expectNoSecrets(out);
  });

  it("prints a readable summary without --json", async () => {
    const run = await mailroom(["export", "--project", "export-main", "--out", path.join(work, "cli-text")]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Exported project 'export-main' to ${path.join(work, "cli-text")}`);
    expect(run.stdout).toContain("4 messages in 3 threads, 4 agents, 2 attachments");
    expect(run.stdout).toMatch(/11 secrets redacted: 1 bearer_token, 5 api_key, 1 jwt, 3 registration_token, 1 secret\n/);
  });

  it("answers --help for every command with exit 0", async () => {
    for (const args of [["--help"], ["export", "--help"], ["help", "export"], ["export", "-h", "--bogus"]]) {
      const run = await mailroom(args);
      expect(run.code, args.join(" ")).toBe(0);
      expect(run.stdout).toMatch(/^Usage: mailroom/);
    }
  });

  it("usage errors: one line on stderr, exit 2", async () => {
    const bare = await mailroom([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^Usage: mailroom <command>/);
    expectOneLineError(await mailroom(["export", "--out", path.join(work, "x")]), 2, "missing --project <key>");
    expectOneLineError(await mailroom(["export", "--project", MAIN, "--out", path.join(work, "x"), "--bogus"]), 2, "unknown option '--bogus'");
    expectOneLineError(await mailroom(["export", "--project", MAIN, "--out", path.join(work, "x"), "--scrub-pattern", "("]), 2, "not a valid regular expression");
    expectOneLineError(await mailroom(["exprot"]), 2, "unknown command 'exprot'");
    expect(existsSync(path.join(work, "x"))).toBe(false);
  });

  it("failures: one line on stderr, exit 1, nothing written", async () => {
    const occupied = path.join(work, "occupied");
    expectOneLineError(await mailroom(["export", "--project", MAIN, "--out", occupied]), 1, "is not empty");
    expect(readdirSync(occupied)).toEqual(["keep.txt"]);
    expectOneLineError(await mailroom(["export", "--project", "/no/such/project", "--out", path.join(work, "y")]), 1, "Project '/no/such/project' not found");
    expect(existsSync(path.join(work, "y"))).toBe(false);
  });

  it("an unreachable database is one clear line, exit 1", async () => {
    const saved = env;
    env = { ...saved, DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" };
    try {
      expectOneLineError(await mailroom(["export", "--project", MAIN, "--out", path.join(work, "z")]), 1, "cannot reach the database");
    } finally {
      env = saved;
    }
  });
});
