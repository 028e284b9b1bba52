// Products: several projects (repositories) read as one mail bus.
export const productOperations = {} as const;
