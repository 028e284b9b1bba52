// Macros: the reference's multi-step workflows, each one call.
export const macroOperations = {} as const;
