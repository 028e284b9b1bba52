// The archive writer thread's entry (thread.ts starts it). A worker thread does not inherit the
// TypeScript loader the server runs under, and tsx's ESM loader cannot be registered from inside
// a thread on Node 20; its CommonJS hook can, so the writer is loaded through require.
require("tsx/cjs/api").register();
require("./thread-main.ts");
