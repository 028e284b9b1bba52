import type { ServiceConfig } from "@/server/services/context";
import { retireStaleAgents } from "@/server/services/lifecycle/auto-retire";
import { sweepFileReservations } from "@/server/services/reservations/sweep";
import type { Job } from "./runner";

/** The periodic jobs the configuration turns on (config.jobs; the sweep reads config.reservations too). */
export function scheduledJobs(config: Pick<ServiceConfig, "jobs" | "reservations">): Job[] {
  const jobs: Job[] = [];
  const { autoRetire, reservationCleanup } = config.jobs;
  if (autoRetire.enabled) {
    jobs.push({
      name: "auto-retire",
      intervalMs: autoRetire.intervalSeconds * 1000,
      run: (db, now) => retireStaleAgents(db, autoRetire.thresholdSeconds, now),
    });
  }
  if (reservationCleanup.enabled) {
    jobs.push({
      name: "file-reservation-sweep",
      intervalMs: reservationCleanup.intervalSeconds * 1000,
      run: (db, now) => sweepFileReservations(db, now, config.reservations),
    });
  }
  return jobs;
}
