import { randomUUID } from "node:crypto";
import type { Product } from "@/generated/prisma/client";
import { canAccessProject } from "@/server/auth/actor";
import type { Db } from "@/server/db/client";
import { AppError, isUniqueViolation, quote } from "@/server/errors";
import { defineOperation } from "@/server/operations/define";
import {
  ensureProductInput,
  productLinkOutput,
  productOutput,
  productResourceInput,
  productsLinkInput,
  productWithProjectsOutput,
  type EnsureProductInput,
} from "@/server/schemas/products";
import type { ServiceContext } from "../context";
import { isoTs } from "../format";

// Products group projects (repositories) into one mail bus. Upstream exposes these tools only
// with WORKTREES_ENABLED; Mailroom always does, and gates them by role instead of leaving
// ensure_product and products_link open to any caller.

const HEX_UID = /^[A-Fa-f0-9]{8,64}$/;
const NAME_MAX = 255;
/** Product reads query every linked project: this bounds the work of one read. */
export const PRODUCT_PROJECTS_MAX = 64;

export function productView(product: Product) {
  return { id: product.id, product_uid: product.productUid, name: product.name, created_at: isoTs(product.createdAt) };
}

/** The product whose uid or name is `key` (uids compare in lower case, names exactly). */
export function findProduct(db: Db, key: string): Promise<Product | null> {
  const trimmed = key.trim();
  return db.product.findFirst({
    where: { OR: [{ productUid: HEX_UID.test(trimmed) ? trimmed.toLowerCase() : trimmed }, { name: trimmed }] },
    orderBy: { id: "asc" },
  });
}

export async function requireProduct(db: Db, key: string, field = "product_key"): Promise<Product> {
  const product = await findProduct(db, key);
  if (!product) throw new AppError("NOT_FOUND", `Product '${quote(key.trim())}' not found. Create it with ensure_product.`, { field });
  return product;
}

async function ensure(ctx: ServiceContext, input: EnsureProductInput) {
  const key = input.product_key?.trim() || undefined;
  const name = input.name?.replace(/\s+/g, " ").trim().slice(0, NAME_MAX) || undefined;
  if (!key && !name) throw new AppError("INVALID_ARGUMENT", "ensure_product needs product_key or name.", { field: "product_key" });
  const lookup = async () => (key ? await findProduct(ctx.db, key) : null) ?? (name ? await findProduct(ctx.db, name) : null);
  const existing = await lookup();
  if (existing) return productView(existing);
  const uid = key && HEX_UID.test(key) ? key.toLowerCase() : randomUUID().replace(/-/g, "").slice(0, 20);
  try {
    return productView(await ctx.db.product.create({ data: { productUid: uid, name: name ?? key!.replace(/\s+/g, " ").slice(0, NAME_MAX) } }));
  } catch (error) {
    // Created concurrently under the same uid or name: that one is the product.
    if (!isUniqueViolation(error)) throw error;
    const raced = await lookup();
    if (raced) return productView(raced);
    throw new AppError("CONFLICT", `A product named '${quote(name ?? key)}' already exists with another uid.`, { field: "name" });
  }
}

export const ensureProduct = defineOperation({
  name: "ensure_product",
  description: "Find a product by uid or name, or create it. Returns {id, product_uid, name, created_at}.",
  input: ensureProductInput,
  output: productOutput,
  permission: "write",
  kind: "mutation",
  scope: "global",
  tool: { profile: "extended", title: "Ensure product", idempotent: true },
  handler: ensure,
});

export const productsLink = defineOperation({
  name: "products_link",
  description: "Link a project to a product (idempotent).",
  input: productsLinkInput,
  output: productLinkOutput,
  permission: "write",
  kind: "mutation",
  scope: "project",
  tool: { profile: "extended", title: "Link project to product", idempotent: true },
  async handler(ctx, input) {
    const product = await requireProduct(ctx.db, input.product_key);
    const links = await ctx.db.productProjectLink.findMany({ where: { productId: product.id }, select: { projectId: true } });
    if (links.length >= PRODUCT_PROJECTS_MAX && !links.some((link) => link.projectId === ctx.project.id)) {
      throw new AppError("CONFLICT", `Product '${quote(product.name)}' already links ${links.length} projects, the most one product may link.`, {
        field: "product_key",
      });
    }
    await ctx.db.productProjectLink.upsert({
      where: { productId_projectId: { productId: product.id, projectId: ctx.project.id } },
      create: { productId: product.id, projectId: ctx.project.id },
      update: {},
    });
    return {
      product: { id: product.id, product_uid: product.productUid, name: product.name },
      project: { id: ctx.project.id, slug: ctx.project.slug, human_key: ctx.project.humanKey },
      linked: true as const,
    };
  },
});

/** resource://product/{key}: the product and its linked projects (those within the caller's scopes). */
export const productResource = defineOperation({
  name: "resource://product",
  description: "A product and its linked projects.",
  input: productResourceInput,
  output: productWithProjectsOutput,
  permission: "read",
  kind: "query",
  scope: "global",
  resource: "resource://product/{key}",
  async handler(ctx, input) {
    const product = await requireProduct(ctx.db, input.key, "key");
    const links = await ctx.db.productProjectLink.findMany({ where: { productId: product.id }, include: { project: true }, orderBy: { projectId: "asc" } });
    return {
      ...productView(product),
      projects: links
        .map((link) => link.project)
        .filter((project) => canAccessProject(ctx.actor, project))
        .map((project) => ({ id: project.id, slug: project.slug, human_key: project.humanKey, created_at: isoTs(project.createdAt) })),
    };
  },
});
