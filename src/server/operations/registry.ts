import { getProject, listAgents, whois } from "@/server/services/agents/queries";
import { createAgentIdentity, registerAgent } from "@/server/services/agents/register";
import { operatorInbox, operatorMessage, operatorOutbox, operatorSearch, operatorThread } from "@/server/services/messages/dashboard";
import {
  ackOverdueResource,
  ackRequiredResource,
  acksStaleResource,
  fetchInbox,
  inboxResource,
  mailboxResource,
  outboxResource,
  pendingResource,
  unreadResource,
  urgentUnreadResource,
} from "@/server/services/messages/inbox";
import { purgeOldMessages } from "@/server/services/messages/maintenance";
import { overseerSend } from "@/server/services/messages/overseer";
import { acknowledgeMessage, markMessageRead } from "@/server/services/messages/read-ack";
import { getMessageReceipts } from "@/server/services/messages/receipts";
import { replyMessage } from "@/server/services/messages/reply";
import { searchMessages } from "@/server/services/messages/search";
import { sendMessage } from "@/server/services/messages/send";
import { fetchSummary, summarizeRecent, summarizeThread } from "@/server/services/messages/summaries";
import { fetchTopic, messageResource, threadResource } from "@/server/services/messages/threads";
import { waitForMail } from "@/server/services/messages/wait";
import { attachmentResource } from "@/server/services/attachments/serve";
import { archiveOperations } from "@/server/services/archive/operations";
import { buildSlotOperations } from "@/server/services/build-slots/operations";
import { dashboardOperations } from "@/server/services/dashboard/operations";
import { contactOperations } from "@/server/services/contacts/operations";
import { guardOperations } from "@/server/services/guard/operations";
import { lifecycleOperations } from "@/server/services/lifecycle/operations";
import { macroOperations } from "@/server/services/macros/operations";
import { productOperations } from "@/server/services/products/operations";
import { reservationOperations } from "@/server/services/reservations/operations";
import { tokenOperations } from "@/server/services/tokens/operations";
import { userOperations } from "@/server/services/users/operations";
import { toolingOperations } from "@/server/services/tooling/operations";
import { projectsOverview } from "@/server/services/projects/overview";
import { ensureProject, listProjects } from "@/server/services/projects/projects";
import { environmentResource, healthCheck } from "@/server/services/system/health";
import { isOperation, type AnyOperation } from "./define";

/**
 * Every operation, once. Registering an operation here is all it takes to serve it: as a tRPC
 * procedure at this path, and as an MCP tool or resource when its definition says so (tools/list
 * shows tools in this order). The permission matrix test covers everything listed here.
 */
export const operations = {
  system: { health: healthCheck, environment: environmentResource },
  projects: { ensure: ensureProject, list: listProjects, get: getProject, overview: projectsOverview },
  agents: { register: registerAgent, createIdentity: createAgentIdentity, whois, list: listAgents },
  mail: {
    send: sendMessage,
    reply: replyMessage,
    fetchInbox,
    waitForMail,
    markRead: markMessageRead,
    acknowledge: acknowledgeMessage,
    fetchTopic,
    receipts: getMessageReceipts,
    search: searchMessages,
    summarizeThread,
    summarizeRecent,
    fetchSummary,
    purgeOld: purgeOldMessages,
  },
  mailbox: {
    inbox: inboxResource,
    outbox: outboxResource,
    mailbox: mailboxResource,
    message: messageResource,
    thread: threadResource,
    attachment: attachmentResource,
    urgentUnread: urgentUnreadResource,
    unread: unreadResource,
    pending: pendingResource,
    ackRequired: ackRequiredResource,
    acksStale: acksStaleResource,
    ackOverdue: ackOverdueResource,
  },
  contacts: contactOperations,
  reservations: reservationOperations,
  buildSlots: buildSlotOperations,
  lifecycle: lifecycleOperations,
  products: productOperations,
  macros: macroOperations,
  tooling: toolingOperations,
  guard: guardOperations,
  /** The Git audit archive read back: commits, a commit's diff, a file at a commit. */
  archive: archiveOperations,
  /** Bearer tokens for agents and tools (admin). */
  tokens: tokenOperations,
  /** Dashboard accounts (admin). */
  users: userOperations,
  /** The overseer's dashboard: any agent's mail of a project. */
  messages: {
    inbox: operatorInbox,
    outbox: operatorOutbox,
    thread: operatorThread,
    get: operatorMessage,
    search: operatorSearch,
    overseerSend,
  },
  /** The overseer's console: project pages, the unified mail list, admin force-release. */
  dashboard: dashboardOperations,
} as const;

export type OperationTree = { readonly [key: string]: AnyOperation | OperationTree };

export interface RegisteredOperation {
  /** The tRPC path (`mail.send`). */
  path: string;
  operation: AnyOperation;
}

function flatten(tree: OperationTree, prefix: string): RegisteredOperation[] {
  return Object.entries(tree).flatMap(([key, value]) =>
    isOperation(value) ? [{ path: `${prefix}${key}`, operation: value }] : flatten(value, `${prefix}${key}.`),
  );
}

/** Every registered operation with its tRPC path, in registry order. */
export const registered: readonly RegisteredOperation[] = flatten(operations, "");

const names = new Set<string>();
for (const { operation } of registered) {
  if (names.has(operation.name)) throw new Error(`Two operations are named '${operation.name}'.`);
  names.add(operation.name);
}

/** The one permission table: operation name → the role it needs. */
export const permissionTable: Readonly<Record<string, AnyOperation["permission"]>> = Object.fromEntries(
  registered.map(({ operation }) => [operation.name, operation.permission]),
);
