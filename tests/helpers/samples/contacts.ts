import type { DomainSamples } from ".";

// set_contact_policy's sample keeps GreenLake reachable (open): the other samples mail it.
export const contactSamples: DomainSamples = {
  expected: {
    request_contact: "write",
    respond_contact: "write",
    list_contacts: "read",
    set_contact_policy: "write",
  },
  samples: async ({ projectKey, agents }) => {
    const green = { project_key: projectKey, registration_token: agents.GreenLake.token };
    const blue = { project_key: projectKey, registration_token: agents.BlueDog.token };
    return {
      inputs: {
        request_contact: { ...green, from_agent: "GreenLake", to_agent: "BlueDog", reason: "matrix" },
        respond_contact: { ...blue, to_agent: "BlueDog", from_agent: "GreenLake", accept: true },
        list_contacts: { ...green, agent_name: "GreenLake" },
        set_contact_policy: { ...green, agent_name: "GreenLake", policy: "open" },
      },
    };
  },
};
