import type { BuildSlot } from "@/generated/prisma/client";
import { defineOperation } from "@/server/operations/define";
import {
  acquireBuildSlotInput,
  acquireBuildSlotOutput,
  releaseBuildSlotInput,
  releaseBuildSlotOutput,
  renewBuildSlotInput,
  renewBuildSlotOutput,
  type AcquireBuildSlotInput,
  type ReleaseBuildSlotInput,
  type RenewBuildSlotInput,
} from "@/server/schemas/build-slots";
import { withTransaction, type AgentContext } from "../context";
import { isoTs, isoTsOrNull } from "../format";

/** Upstream's floor for a lease's length. */
export const MIN_LEASE_SECONDS = 60;

const later = (a: Date, b: Date) => (a > b ? a : b);
const fromNow = (now: Date, seconds: number) => new Date(now.getTime() + Math.max(MIN_LEASE_SECONDS, seconds) * 1000);

function leaseView(row: BuildSlot, agentName: string) {
  return {
    slot: row.slot,
    agent: agentName,
    branch: row.branch || null,
    exclusive: row.exclusive,
    acquired_ts: isoTs(row.acquiredTs),
    expires_ts: isoTs(row.expiresTs),
  };
}

/** The caller's lease on the slot for the branch (one row per project, slot, agent and branch). */
function ownLease(ctx: AgentContext, input: { slot: string; branch?: string | null }) {
  return ctx.db.buildSlot.findUnique({
    where: { projectId_slot_agentId_branch: { projectId: ctx.project.id, slot: input.slot, agentId: ctx.agent.id, branch: input.branch ?? "" } },
  });
}

const isActive = (row: BuildSlot | null, now: Date): row is BuildSlot => row !== null && row.releasedTs === null && row.expiresTs > now;

/**
 * Advisory, as upstream: the lease is always granted and the other holders it conflicts with are
 * listed (either side exclusive). Acquires of one slot are serialised by a transaction-scoped
 * advisory lock, so two agents acquiring together each see the other. Acquiring again renews
 * the same lease: expiry never moves earlier.
 */
export const acquireBuildSlot = defineOperation({
  name: "acquire_build_slot",
  description: "Lease a named build slot (advisory). Returns {granted, conflicts}: other active holders when either lease is exclusive.",
  input: acquireBuildSlotInput,
  output: acquireBuildSlotOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "extended", title: "Acquire build slot" },
  async handler(ctx, input: AcquireBuildSlotInput) {
    const { project, agent } = ctx;
    const branch = input.branch ?? "";
    const now = new Date();
    return withTransaction(ctx, async (tx) => {
      await tx.db.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`build_slot:${project.id}:${input.slot}`}, 0))`;
      const others = await tx.db.buildSlot.findMany({
        where: {
          projectId: project.id,
          slot: input.slot,
          releasedTs: null,
          expiresTs: { gt: now },
          NOT: { agentId: agent.id, branch },
          ...(input.exclusive ? {} : { exclusive: true }),
        },
        include: { agent: { select: { name: true } } },
        orderBy: [{ acquiredTs: "asc" }, { id: "asc" }],
      });
      const existing = await ownLease(tx, input);
      const renewing = isActive(existing, now);
      const expiresTs = later(renewing ? existing.expiresTs : now, fromNow(now, input.ttl_seconds));
      const fields = { exclusive: input.exclusive, expiresTs, releasedTs: null, acquiredTs: renewing ? existing.acquiredTs : now };
      const lease = existing
        ? await tx.db.buildSlot.update({ where: { id: existing.id }, data: fields })
        : await tx.db.buildSlot.create({ data: { ...fields, projectId: project.id, agentId: agent.id, slot: input.slot, branch } });
      return { granted: leaseView(lease, agent.name), conflicts: others.map((row) => leaseView(row, row.agent.name)) };
    });
  },
});

/** Moves an active lease's expiry to now + extend_seconds (never earlier); a missing or ended lease is not revived. */
export const renewBuildSlot = defineOperation({
  name: "renew_build_slot",
  description: "Extend your active build-slot lease to extend_seconds from now. Returns {renewed, expires_ts}.",
  input: renewBuildSlotInput,
  output: renewBuildSlotOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "extended", title: "Renew build slot" },
  async handler(ctx, input: RenewBuildSlotInput) {
    const now = new Date();
    const lease = await ownLease(ctx, input);
    if (!isActive(lease, now)) return { renewed: false, expires_ts: null };
    const expiresTs = later(lease.expiresTs, fromNow(now, input.extend_seconds));
    // Conditional on the lease still being active, so a release that got in first stays released.
    const changed = await ctx.db.buildSlot.updateMany({ where: { id: lease.id, releasedTs: null, expiresTs: { gt: now } }, data: { expiresTs } });
    return changed.count ? { renewed: true, expires_ts: isoTs(expiresTs) } : { renewed: false, expires_ts: null };
  },
});

/** Ends the lease now (released_ts and expires_ts); the row stays as history. */
export const releaseBuildSlot = defineOperation({
  name: "release_build_slot",
  description: "Release your build-slot lease. Returns {released, released_at}; released is false when there was nothing to release.",
  input: releaseBuildSlotInput,
  output: releaseBuildSlotOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "extended", title: "Release build slot", idempotent: true },
  async handler(ctx, input: ReleaseBuildSlotInput) {
    const now = new Date();
    const lease = await ownLease(ctx, input);
    if (!lease) return { released: false, released_at: null };
    const changed = await ctx.db.buildSlot.updateMany({ where: { id: lease.id, releasedTs: null }, data: { releasedTs: now, expiresTs: now } });
    return { released: changed.count > 0, released_at: changed.count ? isoTsOrNull(now) : null };
  },
});
