import type { AnyOperation, ToolCluster } from "@/server/operations/define";

// The reference's cluster of each of its tools (§2.1), plus Mailroom's own tools. A tool's
// `cluster` field overrides this table; a tool in neither falls back to infrastructure, and a test
// (tool-profiles) makes sure no tool is left there by accident.

const REFERENCE_CLUSTERS: Readonly<Record<string, ToolCluster>> = {
  health_check: "infrastructure",
  ensure_project: "infrastructure",
  archive_project: "infrastructure",
  unarchive_project: "infrastructure",
  hard_delete_project: "infrastructure",
  install_precommit_guard: "infrastructure",
  uninstall_precommit_guard: "infrastructure",
  projects_overview: "infrastructure",
  register_agent: "identity",
  deregister_agent: "identity",
  retire_agent: "identity",
  unretire_agent: "identity",
  hard_delete_agent: "identity",
  whois: "identity",
  create_agent_identity: "identity",
  list_window_identities: "identity",
  rename_window: "identity",
  expire_window: "identity",
  sweep_stale_agents: "identity",
  send_message: "messaging",
  purge_old_messages: "messaging",
  reply_message: "messaging",
  fetch_inbox: "messaging",
  fetch_topic: "messaging",
  mark_message_read: "messaging",
  acknowledge_message: "messaging",
  wait_for_mail: "messaging",
  get_message_receipts: "messaging",
  request_contact: "contact",
  respond_contact: "contact",
  list_contacts: "contact",
  set_contact_policy: "contact",
  macro_start_session: "workflow_macros",
  macro_prepare_thread: "workflow_macros",
  macro_file_reservation_cycle: "workflow_macros",
  macro_contact_handshake: "workflow_macros",
  search_messages: "search",
  summarize_thread: "search",
  summarize_recent: "search",
  fetch_summary: "search",
  file_reservation_paths: "file_reservations",
  release_file_reservations: "file_reservations",
  force_release_file_reservation: "file_reservations",
  renew_file_reservations: "file_reservations",
  check_file_reservation_conflicts: "file_reservations",
  acquire_build_slot: "build_slots",
  renew_build_slot: "build_slots",
  release_build_slot: "build_slots",
  ensure_product: "product_bus",
  products_link: "product_bus",
  search_messages_product: "product_bus",
  fetch_inbox_product: "product_bus",
  summarize_thread_product: "product_bus",
};

/** True when the tool's cluster comes from its definition or the table, not the fallback. */
export function hasKnownCluster(operation: AnyOperation): boolean {
  return operation.tool?.cluster !== undefined || operation.name in REFERENCE_CLUSTERS;
}

export function clusterOf(operation: AnyOperation): ToolCluster {
  return operation.tool?.cluster ?? REFERENCE_CLUSTERS[operation.name] ?? "infrastructure";
}

/** What each cluster is for (tooling/directory). */
export const CLUSTER_PURPOSES: Readonly<Record<ToolCluster, string>> = {
  infrastructure: "Server health, projects and repository hooks.",
  identity: "Register, look up and retire agent identities.",
  messaging: "Send, receive, read and acknowledge mail.",
  contact: "Ask for and grant permission to message another agent.",
  search: "Find and summarise mail.",
  file_reservations: "Advisory leases on paths, so agents do not edit the same files.",
  workflow_macros: "Several common steps in one call.",
  build_slots: "Advisory leases on build and test slots.",
  product_bus: "Several repositories read as one mail bus.",
};
