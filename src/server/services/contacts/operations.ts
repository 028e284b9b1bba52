// Contacts: links between agents and each agent's contact policy.
export const contactOperations = {} as const;
