import type { JobsConfig } from "@/server/services/context";
import { retireStaleAgents } from "@/server/services/lifecycle/auto-retire";
import type { Job } from "./runner";

/** The periodic jobs the configuration turns on. */
export function scheduledJobs(config: JobsConfig): Job[] {
  const jobs: Job[] = [];
  const { autoRetire } = config;
  if (autoRetire.enabled) {
    jobs.push({
      name: "auto-retire",
      intervalMs: autoRetire.intervalSeconds * 1000,
      run: (db, now) => retireStaleAgents(db, autoRetire.thresholdSeconds, now),
    });
  }
  return jobs;
}
