import { dashboardForceRelease } from "./force-release";
import { dashboardMail, dashboardReceipts } from "./mail";
import { dashboardProject } from "./project";

/** The overseer's console: reads and admin actions that have no MCP tool. */
export const dashboardOperations = {
  project: dashboardProject,
  mail: dashboardMail,
  receipts: dashboardReceipts,
  forceRelease: dashboardForceRelease,
} as const;
