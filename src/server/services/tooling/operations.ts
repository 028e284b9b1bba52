// Tooling: the directory, schemas, metrics, locks, capabilities and identity resources.
export const toolingOperations = {} as const;
