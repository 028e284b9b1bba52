import { getProject, listAgents } from "@/server/services/agents/queries";
import { listProjects } from "@/server/services/projects/projects";
import { outboxView, recipientView } from "@/server/services/messages/inbox";
import { messageResource, threadResource } from "@/server/services/messages/threads";
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
  defineResource({
    uriTemplate: "resource://inbox/{agent}",
    name: "inbox",
    description: "An agent's inbox. Query: project, agent_token, limit, since_ts, urgent_only, include_bodies.",
    permission: "read",
    handler: (ctx, params, query) => recipientView(ctx, "inbox", { agent: params.agent!, query, resource: "inbox" }),
  }),
  defineResource({
    uriTemplate: "resource://outbox/{agent}",
    name: "outbox",
    description: "Messages an agent sent, with recipients. Query: project, agent_token, limit, since_ts, include_bodies.",
    permission: "read",
    handler: (ctx, params, query) => outboxView(ctx, { agent: params.agent!, query, resource: "outbox" }),
  }),
  defineResource({
    uriTemplate: "resource://mailbox/{agent}",
    name: "mailbox",
    description: "An agent's received mail with its read/ack state. Query: project, agent_token, limit.",
    permission: "read",
    handler: (ctx, params, query) => recipientView(ctx, "mailbox", { agent: params.agent!, query, resource: "mailbox" }),
  }),
  defineResource({
    uriTemplate: "resource://message/{message_id}",
    name: "message",
    description: "One message with body, if visible to the agent. Query: project, agent, agent_token.",
    permission: "read",
    handler: (ctx, params, query) => messageResource(ctx, params.message_id!, query),
  }),
  defineResource({
    uriTemplate: "resource://thread/{thread_id}",
    name: "thread",
    description: "A thread's visible messages, oldest first. Query: project, agent, agent_token, include_bodies.",
    permission: "read",
    handler: (ctx, params, query) => threadResource(ctx, params.thread_id!, query),
  }),
  defineResource({
    uriTemplate: "resource://views/urgent-unread/{agent}",
    name: "urgent-unread",
    description: "Unread high/urgent messages. Query: project, agent_token, limit.",
    permission: "read",
    handler: (ctx, params, query) => recipientView(ctx, "urgent-unread", { agent: params.agent!, query, resource: "views/urgent-unread" }),
  }),
  defineResource({
    uriTemplate: "resource://views/ack-required/{agent}",
    name: "ack-required",
    description: "Messages awaiting your acknowledgement. Query: project, agent_token, limit.",
    permission: "read",
    handler: (ctx, params, query) => recipientView(ctx, "ack-required", { agent: params.agent!, query, resource: "views/ack-required" }),
  }),
  defineResource({
    uriTemplate: "resource://views/acks-stale/{agent}",
    name: "acks-stale",
    description: "Acks pending for at least ttl_seconds (default 1800). Query: project, agent_token, ttl_seconds, limit.",
    permission: "read",
    handler: (ctx, params, query) => recipientView(ctx, "acks-stale", { agent: params.agent!, query, resource: "views/acks-stale" }),
  }),
  defineResource({
    uriTemplate: "resource://views/ack-overdue/{agent}",
    name: "ack-overdue",
    description: "Acks pending for longer than ttl_minutes (default 60). Query: project, agent_token, ttl_minutes, limit (50).",
    permission: "read",
    handler: (ctx, params, query) => recipientView(ctx, "ack-overdue", { agent: params.agent!, query, resource: "views/ack-overdue" }),
  }),
].map(compileResource);
