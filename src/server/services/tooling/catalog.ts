import { z } from "zod";
import type { AnyOperation } from "@/server/operations/define";
import { hasRole, type Actor } from "@/server/auth/actor";
import { clusterOf } from "./clusters";

// What the tooling resources say about tools, derived from the operation registry. The registry
// lists these resources itself, so it is loaded when a resource is read, not when this module is.

export async function tools(): Promise<AnyOperation[]> {
  const { registered } = await import("@/server/operations/registry");
  return registered.map(({ operation }) => operation).filter((operation) => operation.tool);
}

export function inputProperties(operation: AnyOperation): { properties: Record<string, unknown>; required: string[] } {
  const schema = z.toJSONSchema(operation.input, { io: "input" }) as { properties?: Record<string, unknown>; required?: string[] };
  return { properties: schema.properties ?? {}, required: schema.required ?? [] };
}

/** low, medium or high, by how many arguments the tool takes. */
export function complexity(operation: AnyOperation): "low" | "medium" | "high" {
  const count = Object.keys(inputProperties(operation).properties).length;
  return count <= 4 ? "low" : count <= 9 ? "medium" : "high";
}

/** A tool's capability tags: its cluster and whether it reads or writes. */
export function toolCapabilities(operation: AnyOperation): string[] {
  return [clusterOf(operation), operation.kind === "query" ? "read" : "write"];
}

/** The tools this actor's roles let it call. */
export function callableBy(actor: Actor, operations: AnyOperation[]): AnyOperation[] {
  return operations.filter((operation) => hasRole(actor, operation.permission));
}
