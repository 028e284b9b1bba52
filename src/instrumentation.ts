// Next calls register() once when a server process starts (never during `next build`).
export async function register() {
  // NEXT_RUNTIME is a build-time constant set by Next (not configuration): it keeps the database
  // code out of the edge bundle.
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { openAtStartup } = await import("./server/startup");
  await openAtStartup();
}
