import { ensureProjectInput, projectLookupInput } from "@/server/schemas/projects";
import { getProject } from "@/server/services/agents/queries";
import { projectsOverview } from "@/server/services/projects/overview";
import { ensureProject, listProjects } from "@/server/services/projects/projects";
import { readProcedure, router, writeProcedure } from "../trpc";

export const projectsRouter = router({
  list: readProcedure.query(({ ctx }) => listProjects(ctx)),
  overview: readProcedure.query(({ ctx }) => projectsOverview(ctx)),
  get: readProcedure.input(projectLookupInput).query(({ ctx, input }) => getProject(ctx, input)),
  ensure: writeProcedure.input(ensureProjectInput).mutation(({ ctx, input }) => ensureProject(ctx, input)),
});
