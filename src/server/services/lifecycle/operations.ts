// Lifecycle: retiring, deregistering and deleting agents; archiving and deleting projects; window identities.
export const lifecycleOperations = {} as const;
