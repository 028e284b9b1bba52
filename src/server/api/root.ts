import { agentsRouter } from "./routers/agents";
import { messagesRouter } from "./routers/messages";
import { projectsRouter } from "./routers/projects";
import { systemRouter } from "./routers/system";
import { router } from "./trpc";

export const appRouter = router({
  system: systemRouter,
  projects: projectsRouter,
  agents: agentsRouter,
  messages: messagesRouter,
});

export type AppRouter = typeof appRouter;
