import { toolingCapabilities, toolingDirectory, toolingSchemas } from "./directory";
import { identityResource } from "./identity";
import { toolingLocks } from "./locks";
import { toolingMetrics, toolingRecent } from "./metrics";

// Tooling: the directory, schemas, metrics, locks, capabilities and identity resources.
export const toolingOperations = {
  directory: toolingDirectory,
  schemas: toolingSchemas,
  metrics: toolingMetrics,
  locks: toolingLocks,
  capabilities: toolingCapabilities,
  recent: toolingRecent,
  identity: identityResource,
} as const;
