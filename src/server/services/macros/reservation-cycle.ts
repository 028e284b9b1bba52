import { defineOperation } from "@/server/operations/define";
import { invoke } from "@/server/operations/invoke";
import { macroFileReservationCycleInput, macroFileReservationCycleOutput, type MacroFileReservationCycleInput } from "@/server/schemas/macros";
import type { AgentContext } from "../context";
import { fileReservationPaths, releaseFileReservations } from "../reservations/operations";
import { inMacroTransaction } from "./transaction";

/** macro_file_reservation_cycle: reserve, and with auto_release release the same paths, in one transaction. */
export const macroFileReservationCycle = defineOperation({
  name: "macro_file_reservation_cycle",
  description: "Reserve paths and, with auto_release, release the same paths straight away. Returns {file_reservations:{granted, conflicts}, released}.",
  input: macroFileReservationCycleInput,
  output: macroFileReservationCycleOutput,
  permission: "write",
  kind: "mutation",
  scope: "agent",
  tool: { profile: "extended", title: "Reservation cycle" },
  handler: (ctx: AgentContext, input: MacroFileReservationCycleInput) =>
    inMacroTransaction(ctx, async (tx) => {
      const as = { project_key: ctx.project.humanKey, agent_name: ctx.agent.name, registration_token: input.registration_token };
      const granted = await invoke(fileReservationPaths, tx, {
        ...as,
        paths: input.paths,
        ttl_seconds: input.ttl_seconds,
        exclusive: input.exclusive,
        reason: input.reason,
      });
      const file_reservations = { granted: granted.granted, conflicts: granted.conflicts };
      const released = input.auto_release ? await invoke(releaseFileReservations, tx, { ...as, paths: input.paths }) : null;
      return { file_reservations, released };
    }),
});
