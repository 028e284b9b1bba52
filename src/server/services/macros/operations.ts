import { macroContactHandshake } from "./handshake";
import { macroFileReservationCycle } from "./reservation-cycle";
import { macroPrepareThread, macroStartSession } from "./session";

// Macros: the reference's multi-step workflows, each one call and (where it writes) one transaction.
export { macroContactHandshake, macroFileReservationCycle, macroPrepareThread, macroStartSession };
export const macroOperations = { macroStartSession, macroPrepareThread, macroFileReservationCycle, macroContactHandshake } as const;
