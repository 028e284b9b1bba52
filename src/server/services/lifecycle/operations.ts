import { deregisterAgent, hardDeleteAgent, retireAgent, unretireAgent } from "./agents";
import { archiveProject, hardDeleteProject, unarchiveProject } from "./projects";
import { expireWindow, listWindowIdentities, renameWindow } from "./windows";

// Lifecycle: retiring, deregistering and deleting agents; archiving and deleting projects; window identities.
export const lifecycleOperations = {
  deregisterAgent,
  retireAgent,
  unretireAgent,
  archiveProject,
  unarchiveProject,
  hardDeleteAgent,
  hardDeleteProject,
  listWindowIdentities,
  renameWindow,
  expireWindow,
} as const;
