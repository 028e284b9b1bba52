// The pre-commit / pre-push guard installed into repositories on the server's machine.
export const guardOperations = {} as const;
