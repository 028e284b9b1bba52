import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/server/errors";
import { invoke } from "@/server/operations/invoke";
import type { ServiceContext } from "@/server/services/context";
import { sendMessage } from "@/server/services/messages/send";
import { fetchInboxProduct, searchMessagesProduct, summarizeThreadProduct } from "@/server/services/products/reads";
import { ensureProduct, PRODUCT_PROJECTS_MAX, productResource, productsLink } from "@/server/services/products/products";
import { ensureProject } from "@/server/services/projects/projects";
import { actorFor } from "../helpers/actors";
import { openTestDatabase } from "../helpers/database";
import { projectWithAgents } from "../helpers/mail";

// The product bus (reference §2.2 tools 44–48, §5 resource://product/{key}): products group
// projects; product reads cover every linked project through the eyes of the agents the caller
// proved to be (at least one, in a linked project).

let db: Awaited<ReturnType<typeof openTestDatabase>>;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("ensure_product", () => {
  it("creates a product whose uid is a hex product_key in lower case, and finds it again by uid or name", async () => {
    const { ctx } = await projectWithAgents(db, "/prod/ensure-1", []);
    const created = await invoke(ensureProduct, ctx, { product_key: "ABCDEF0123", name: "  Fleet   one " });
    expect(created).toEqual({ id: expect.any(Number), product_uid: "abcdef0123", name: "Fleet one", created_at: expect.any(String) });
    expect(await invoke(ensureProduct, ctx, { product_key: "abcdef0123" })).toEqual(created);
    expect(await invoke(ensureProduct, ctx, { product_key: "Fleet one" })).toEqual(created);
    expect(await invoke(ensureProduct, ctx, { name: "Fleet one" })).toEqual(created);
    expect(await db.prisma.product.count({ where: { name: "Fleet one" } })).toBe(1);
  });

  it("gives a product_key that is not 8-64 hex characters a random 20-hex uid, and uses it as the name", async () => {
    const { ctx } = await projectWithAgents(db, "/prod/ensure-2", []);
    const created = await invoke(ensureProduct, ctx, { product_key: "web-platform" });
    expect(created.product_uid).toMatch(/^[0-9a-f]{20}$/);
    expect(created.name).toBe("web-platform");
    const short = await invoke(ensureProduct, ctx, { product_key: "abc123" });
    expect(short.product_uid).not.toBe("abc123");
  });

  it("caps the name at 255 characters and needs product_key or name", async () => {
    const { ctx } = await projectWithAgents(db, "/prod/ensure-3", []);
    const long = await invoke(ensureProduct, ctx, { name: `${"n".repeat(300)}` });
    expect(long.name).toHaveLength(255);
    const error = await rejection(invoke(ensureProduct, ctx, { name: "   " }));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toBe("ensure_product needs product_key or name.");
  });
});

describe("products_link and resource://product", () => {
  it("links idempotently and lists the linked projects", async () => {
    const first = await projectWithAgents(db, "/prod/link-a", []);
    const second = await projectWithAgents(db, "/prod/link-b", []);
    const ctx = first.ctx;
    const product = await invoke(ensureProduct, ctx, { name: "linked" });
    const link = await invoke(productsLink, ctx, { product_key: "linked", project_key: first.project.human_key });
    expect(link).toEqual({
      product: { id: product.id, product_uid: product.product_uid, name: "linked" },
      project: { id: first.project.id, slug: first.project.slug, human_key: "/prod/link-a" },
      linked: true,
    });
    expect(await invoke(productsLink, ctx, { product_key: product.product_uid, project_key: first.project.slug })).toEqual(link);
    await invoke(productsLink, ctx, { product_key: "linked", project_key: second.project.slug });
    expect(await db.prisma.productProjectLink.count({ where: { productId: product.id } })).toBe(2);

    const view = await invoke(productResource, ctx, { key: "linked" });
    expect(view).toMatchObject({ id: product.id, product_uid: product.product_uid, name: "linked" });
    expect(view.projects.map((project) => project.human_key)).toEqual(["/prod/link-a", "/prod/link-b"]);
  });

  it(`links at most ${PRODUCT_PROJECTS_MAX} projects to one product; a linked project can still be linked again`, async () => {
    const { ctx } = await projectWithAgents(db, "/prod/cap-0", []);
    await invoke(ensureProduct, ctx, { name: "capped" });
    for (let i = 0; i < PRODUCT_PROJECTS_MAX; i += 1) {
      await invoke(ensureProject, ctx, { human_key: `/prod/cap-${i}` });
      await invoke(productsLink, ctx, { product_key: "capped", project_key: `/prod/cap-${i}` });
    }
    await invoke(ensureProject, ctx, { human_key: "/prod/cap-over" });
    const refused = await rejection(invoke(productsLink, ctx, { product_key: "capped", project_key: "/prod/cap-over" }));
    expect([refused.code, refused.message]).toEqual(["CONFLICT", `Product 'capped' already links ${PRODUCT_PROJECTS_MAX} projects, the most one product may link.`]);
    expect((await invoke(productsLink, ctx, { product_key: "capped", project_key: "/prod/cap-0" })).linked).toBe(true);
    expect((await invoke(productResource, ctx, { key: "capped" })).projects).toHaveLength(PRODUCT_PROJECTS_MAX);
  });

  it("shows a scoped actor only the linked projects within its scopes", async () => {
    const inside = await projectWithAgents(db, "/prod/scope-in", []);
    await projectWithAgents(db, "/prod/scope-out", []);
    await invoke(ensureProduct, inside.ctx, { name: "scoped" });
    await invoke(productsLink, inside.ctx, { product_key: "scoped", project_key: "/prod/scope-in" });
    await invoke(productsLink, inside.ctx, { product_key: "scoped", project_key: "/prod/scope-out" });
    const scoped: ServiceContext = { ...inside.ctx, actor: { ...actorFor("reader"), projectScopes: [inside.project.slug] } };
    const view = await invoke(productResource, scoped, { key: "scoped" });
    expect(view.projects.map((project) => project.human_key)).toEqual(["/prod/scope-in"]);
  });

  it("answers an unknown product with NOT_FOUND", async () => {
    const { ctx } = await projectWithAgents(db, "/prod/unknown", []);
    const error = await rejection(invoke(productsLink, ctx, { product_key: "nope", project_key: "/prod/unknown" }));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toBe("Product 'nope' not found. Create it with ensure_product.");
  });
});

describe("product reads", () => {
  // /bus/api: GreenLake, BlueDog; /bus/web: RedFox, GreenLake (another agent of the same name).
  async function bus(name: string) {
    const api = await projectWithAgents(db, `/bus/${name}/api`, ["GreenLake", "BlueDog"]);
    const web = await projectWithAgents(db, `/bus/${name}/web`, ["RedFox", "GreenLake"]);
    const ctx = api.ctx;
    await invoke(ensureProduct, ctx, { name });
    await invoke(productsLink, ctx, { product_key: name, project_key: api.project.slug });
    await invoke(productsLink, ctx, { product_key: name, project_key: web.project.slug });
    const send = (project: typeof api, sender: string, to: string, subject: string, thread = "BUS-1") =>
      invoke(sendMessage, ctx, {
        project_key: project.project.slug,
        sender_name: sender,
        sender_token: project.agents[sender]!.token,
        to: [to],
        subject,
        body_md: `- ${subject} deploy note\n- [ ] TODO check ${subject}`,
        thread_id: thread,
      });
    const toApi = await send(api, "BlueDog", "GreenLake", "alpha");
    const toWeb = await send(api, "GreenLake", `project:${web.project.slug}#RedFox`, "beta");
    const webOnly = await send(web, "RedFox", "GreenLake", "gamma");
    return { ctx, api, web, ids: { toApi: toApi.deliveries[0]!.payload.id, toWeb: toWeb.deliveries[0]!.payload.id, webOnly: webOnly.deliveries[0]!.payload.id } };
  }

  it("search_messages_product searches every linked project as the authenticated agent; hits add project_id", async () => {
    const { ctx, api, web, ids } = await bus("search");
    const hits = await invoke(searchMessagesProduct, ctx, {
      product_key: "search",
      query: "deploy",
      agent_name: "GreenLake",
      registration_token: api.agents.GreenLake!.token,
    });
    // GreenLake of /api received alpha and sent beta into /web; gamma went to /web's own GreenLake.
    expect(hits.map((hit) => hit.id).sort()).toEqual([ids.toApi, ids.toWeb].sort());
    expect(hits.find((hit) => hit.id === ids.toWeb)).toMatchObject({ project_id: web.project.id, subject: "beta", from: "GreenLake" });
    expect(hits.find((hit) => hit.id === ids.toApi)).toMatchObject({ project_id: api.project.id });

    const asWeb = await invoke(searchMessagesProduct, ctx, {
      product_key: "search",
      query: "deploy",
      agent_name: "GreenLake",
      registration_token: web.agents.GreenLake!.token,
    });
    expect(asWeb.map((hit) => hit.id)).toEqual([ids.webOnly]);
  });

  it("fetch_inbox_product merges the authenticated agents' inboxes, newest first, cut to limit", async () => {
    const { ctx, api, ids } = await bus("inbox");
    const token = api.agents.GreenLake!.token;
    const items = await invoke(fetchInboxProduct, ctx, { product_key: "inbox", agent_name: "GreenLake", registration_token: token });
    expect(items.map((item) => item.id)).toEqual([ids.toApi]);
    expect(items[0]).toMatchObject({ kind: "to", from: "BlueDog", attachments: [] });
    expect(items[0]).not.toHaveProperty("body_md");
    const tokenless = await rejection(invoke(fetchInboxProduct, ctx, { product_key: "inbox", agent_name: "RedFox" }));
    expect(tokenless.code).toBe("AUTHENTICATION_REQUIRED");
    const error = await rejection(invoke(fetchInboxProduct, ctx, { product_key: "inbox", agent_name: "GreenLake", registration_token: token, limit: 0 }));
    expect(error.code).toBe("INVALID_LIMIT");
  });

  it("summarize_thread_product summarises one thread across the projects, oldest first", async () => {
    const { ctx, api, ids } = await bus("digest");
    const result = await invoke(summarizeThreadProduct, ctx, {
      product_key: "digest",
      thread_id: "BUS-1",
      include_examples: true,
      agent_name: "GreenLake",
      registration_token: api.agents.GreenLake!.token,
    });
    expect(result.thread_id).toBe("BUS-1");
    expect(result.summary).toMatchObject({ total_messages: 2, participants: ["BlueDog", "GreenLake"] });
    expect(result.examples.map((example) => (example as { id: number }).id)).toEqual([ids.toApi, ids.toWeb]);
  });

  it("needs an agent of a linked project, proven by its token", async () => {
    const { ctx, api } = await bus("auth");
    const base = { product_key: "auth", query: "deploy" };
    expect((await rejection(invoke(searchMessagesProduct, ctx, base))).message).toBe(
      "search_messages_product requires agent_name and registration_token: results only cover what that agent may see.",
    );
    const stranger = await rejection(invoke(searchMessagesProduct, ctx, { ...base, agent_name: "SilverWolf", registration_token: "x" }));
    expect(stranger.code).toBe("NOT_FOUND");
    expect(stranger.message).toBe("Agent 'SilverWolf' not found in any project linked to product 'auth'.");
    const wrong = await rejection(invoke(searchMessagesProduct, ctx, { ...base, agent_name: "BlueDog", registration_token: api.agents.GreenLake!.token }));
    expect(wrong.code).toBe("AUTHENTICATION_REQUIRED");
    expect(wrong.message).toBe("Invalid registration_token for agent 'BlueDog'.");
  });
});
