import { invoke } from "@/server/operations/invoke";
import { sendMessage } from "@/server/services/messages/send";
import type { DomainSamples } from ".";

/** Attachments: the resource that reads one back, sampled on a message GreenLake sends BlueDog with a file. */
export const attachmentSamples: DomainSamples = {
  expected: {
    "resource://attachment": "read",
  },
  samples: async ({ ctx, projectKey, agents }) => {
    const sent = await invoke(sendMessage, ctx, {
      project_key: projectKey,
      sender_name: "GreenLake",
      sender_token: agents.GreenLake.token,
      to: ["BlueDog"],
      subject: "matrix attachment",
      body_md: "see the file",
      attachments: [{ name: "notes.txt", media_type: "text/plain", content_base64: Buffer.from("matrix notes\n").toString("base64") }],
    });
    const payload = sent.deliveries[0]!.payload;
    return {
      inputs: {
        "resource://attachment": {
          message_id: payload.id,
          sha256: payload.attachments[0]!.sha256,
          project: projectKey,
          agent: "BlueDog",
          agent_token: agents.BlueDog.token,
        },
      },
    };
  },
};
