import { getProject, listAgents } from "@/server/services/agents/queries";
import { listProjects } from "@/server/services/projects/projects";
import { environmentResource } from "@/server/services/system/health";
import { compileResource, defineResource } from "../registry";

export const resources = [
  defineResource({
    uriTemplate: "resource://projects",
    name: "projects",
    description: "All projects, oldest first.",
    permission: "read",
    handler: (ctx) => listProjects(ctx),
  }),
  defineResource({
    uriTemplate: "resource://project/{slug}",
    name: "project",
    description: "One project (slug or human key) with all its agents.",
    permission: "read",
    handler: (ctx, params) => getProject(ctx, { project_key: params.slug! }),
  }),
  defineResource({
    uriTemplate: "resource://agents/{project_key}",
    name: "agents",
    description: "A project's agents (most recently active first) with unread counts, and its retired agents.",
    permission: "read",
    handler: (ctx, params) => listAgents(ctx, { project_key: params.project_key! }),
  }),
  defineResource({
    uriTemplate: "resource://config/environment",
    name: "environment",
    description: "Server environment, database (password redacted) and MCP endpoint.",
    permission: "read",
    handler: (ctx) => environmentResource(ctx),
  }),
].map(compileResource);
