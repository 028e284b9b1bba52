import { defineOperation } from "@/server/operations/define";
import {
  checkConflictsInput,
  checkOutput,
  fileReservationPathsInput,
  forceReleaseInput,
  forceReleaseOutput,
  grantOutput,
  releaseInput,
  releaseOutput,
  renewInput,
  renewOutput,
  reservationListOutput,
  reservationsResourceInput,
} from "@/server/schemas/reservations";
import { forceRelease } from "./force-release";
import { checkConflicts, grantReservations } from "./grant";
import { releaseReservations, renewReservations } from "./release";
import { listReservations } from "./resource";

// File reservations: advisory (or, on request, enforced) leases on path patterns.

export const fileReservationPaths = defineOperation({
  name: "file_reservation_paths",
  description: "Reserve paths for ttl_seconds. Advisory: conflicts are reported, paths granted anyway; refuse_conflicts makes it all-or-nothing.",
  input: fileReservationPathsInput,
  output: grantOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "core", title: "Reserve paths" },
  handler: grantReservations,
});

export const checkFileReservationConflicts = defineOperation({
  name: "check_file_reservation_conflicts",
  description: "Dry run of file_reservation_paths: the conflicts it would report. Writes nothing.",
  input: checkConflictsInput,
  output: checkOutput,
  permission: "read",
  kind: "query",
  scope: "agent",
  tool: { profile: "extended", title: "Check reservation conflicts", idempotent: true },
  handler: checkConflicts,
});

export const releaseFileReservations = defineOperation({
  name: "release_file_reservations",
  description: "Release your active reservations: all of them, or those with these ids and/or exact patterns.",
  input: releaseInput,
  output: releaseOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "core", title: "Release reservations", idempotent: true },
  handler: releaseReservations,
});

export const renewFileReservations = defineOperation({
  name: "renew_file_reservations",
  description: "Extend your active reservations (all, or by id/pattern) to max(now, old) + max(60, extend_seconds), at most 30 days from now.",
  input: renewInput,
  output: renewOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "extended", title: "Renew reservations" },
  handler: renewReservations,
});

export const forceReleaseFileReservation = defineOperation({
  name: "force_release_file_reservation",
  description: "Release another agent's reservation if it is stale (holder inactive, no recent mail/file/git activity); mails the holder. Admin only.",
  input: forceReleaseInput,
  output: forceReleaseOutput,
  permission: "admin",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "extended", title: "Force-release reservation", destructive: true },
  handler: forceRelease,
});

export const fileReservationsResource = defineOperation({
  name: "resource://file_reservations",
  description: "A project's file reservations (active only by default) with staleness; expired and stale ones are released first.",
  input: reservationsResourceInput,
  output: reservationListOutput,
  permission: "read",
  kind: "query",
  scope: "project",
  resource: "resource://file_reservations/{slug}",
  resourceFields: { slug: "project_key" },
  handler: listReservations,
});

export const reservationOperations = {
  fileReservationPaths,
  checkFileReservationConflicts,
  releaseFileReservations,
  renewFileReservations,
  forceReleaseFileReservation,
  fileReservationsResource,
} as const;
