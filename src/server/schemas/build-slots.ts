import { z } from "zod";
import { INT32_MAX, agentName, outputFormat, projectKey, registrationToken, timestamp } from "./common";

const slot = z.string().trim().min(1, "is required").max(128).describe("Slot name, e.g. frontend-build or test-runner.");
const branch = z.string().trim().max(256).nullish().describe("Branch the lease is for; omitted means none.");
/** Seconds: anything below upstream's 60 s floor is raised to it. */
const seconds = (fallback: number, description: string) => z.number().int().min(-INT32_MAX).max(INT32_MAX).default(fallback).describe(description);

const slotTarget = { project_key: projectKey, agent_name: agentName, slot, branch, registration_token: registrationToken, format: outputFormat };

export const acquireBuildSlotInput = z.strictObject({
  ...slotTarget,
  ttl_seconds: seconds(3600, "Lease length in seconds (minimum 60)."),
  exclusive: z.boolean().default(true).describe("Exclusive conflicts with every holder; shared only with exclusive holders."),
});
export type AcquireBuildSlotInput = z.infer<typeof acquireBuildSlotInput>;

export const renewBuildSlotInput = z.strictObject({ ...slotTarget, extend_seconds: seconds(1800, "New lease length from now in seconds (minimum 60).") });
export type RenewBuildSlotInput = z.infer<typeof renewBuildSlotInput>;

export const releaseBuildSlotInput = z.strictObject(slotTarget);
export type ReleaseBuildSlotInput = z.infer<typeof releaseBuildSlotInput>;

export const leaseOutput = z.strictObject({
  slot: z.string(),
  agent: z.string(),
  branch: z.string().nullable(),
  exclusive: z.boolean(),
  acquired_ts: timestamp,
  expires_ts: timestamp,
});

export const acquireBuildSlotOutput = z.strictObject({ granted: leaseOutput, conflicts: z.array(leaseOutput) });
export const renewBuildSlotOutput = z.strictObject({ renewed: z.boolean(), expires_ts: timestamp.nullable() });
export const releaseBuildSlotOutput = z.strictObject({ released: z.boolean(), released_at: timestamp.nullable() });
