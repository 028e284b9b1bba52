import type { Database } from "@/server/db/client";
import type { Permission } from "@/server/operations/define";
import type { ServiceContext } from "@/server/services/context";
import type { TestAgent } from "../mail";
import { archiveSamples } from "./archive";
import { attachmentSamples } from "./attachments";
import { buildSlotSamples } from "./build-slots";
import { contactSamples } from "./contacts";
import { dashboardSamples } from "./dashboard";
import { guardSamples } from "./guard";
import { lifecycleSamples } from "./lifecycle";
import { macroSamples } from "./macros";
import { productSamples } from "./products";
import { reservationSamples } from "./reservations";
import { tokenSamples } from "./tokens";
import { toolingSamples } from "./tooling";
import { userSamples } from "./users";

/** What every domain's samples start from: the matrix project with GreenLake, BlueDog and one message. */
export interface SampleBase {
  db: Database;
  /** An admin context on the matrix database. */
  ctx: ServiceContext;
  projectKey: string;
  agents: Record<"GreenLake" | "BlueDog", TestAgent>;
  /** GreenLake → BlueDog, ack required, in thread MATRIX-1, topic "matrix". */
  messageId: number;
  threadId: string;
}

export interface OperationSamples {
  /** A valid input per operation name: a call with it succeeds for a caller with the operation's role. */
  inputs: Record<string, Record<string, unknown>>;
  /**
   * For operations a successful call uses up (deletes, one-shot confirmations): a fresh valid input
   * per call. The permission matrix uses it for allowed calls; `inputs` still holds a valid shape.
   */
  fresh?: Record<string, () => Promise<Record<string, unknown>>>;
}

/**
 * One domain's part of the permission matrix: the role each of its operations needs (written out
 * here, not derived, so that changing who may do what changes a test file) and a sample per operation.
 */
export interface DomainSamples {
  expected: Record<string, Permission>;
  samples(base: SampleBase): Promise<OperationSamples>;
}

export const domainSamples: readonly DomainSamples[] = [
  contactSamples,
  reservationSamples,
  buildSlotSamples,
  lifecycleSamples,
  productSamples,
  macroSamples,
  toolingSamples,
  guardSamples,
  attachmentSamples,
  archiveSamples,
  tokenSamples,
  userSamples,
  dashboardSamples,
];
