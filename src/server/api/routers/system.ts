import { healthCheckInput } from "@/server/schemas/projects";
import { healthCheck } from "@/server/services/system/health";
import { readProcedure, router } from "../trpc";

export const systemRouter = router({
  health: readProcedure.input(healthCheckInput.optional()).query(({ ctx }) => healthCheck(ctx)),
});
