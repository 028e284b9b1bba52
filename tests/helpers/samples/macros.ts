import type { DomainSamples } from ".";

// The handshake's sample is the fast path (both tokens, auto_accept): repeatable, and it leaves
// GreenLake → BlueDog approved, which the mail samples do not depend on.
export const macroSamples: DomainSamples = {
  expected: {
    macro_start_session: "write",
    macro_prepare_thread: "write",
    macro_file_reservation_cycle: "write",
    macro_contact_handshake: "write",
  },
  samples: async ({ projectKey, agents, threadId }) => ({
    inputs: {
      macro_start_session: {
        human_key: projectKey,
        program: "matrix",
        model: "m",
        agent_name: "GreenLake",
        registration_token: agents.GreenLake.token,
        file_reservation_paths: ["macro/session/**"],
        inbox_limit: 5,
      },
      macro_prepare_thread: {
        project_key: projectKey,
        thread_id: threadId,
        program: "matrix",
        model: "m",
        agent_name: "BlueDog",
        registration_token: agents.BlueDog.token,
        llm_mode: false,
      },
      macro_file_reservation_cycle: {
        project_key: projectKey,
        agent_name: "GreenLake",
        registration_token: agents.GreenLake.token,
        paths: ["macro/cycle.txt"],
        auto_release: true,
      },
      macro_contact_handshake: {
        project_key: projectKey,
        requester: "GreenLake",
        target: "BlueDog",
        requester_registration_token: agents.GreenLake.token,
        target_registration_token: agents.BlueDog.token,
        auto_accept: true,
      },
    },
  }),
};
