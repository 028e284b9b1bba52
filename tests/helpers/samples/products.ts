import { invoke } from "@/server/operations/invoke";
import { ensureProduct, productsLink } from "@/server/services/products/products";
import type { DomainSamples } from ".";

// The matrix product links the matrix project, so GreenLake's product reads find its mail.
export const productSamples: DomainSamples = {
  expected: {
    ensure_product: "write",
    products_link: "write",
    search_messages_product: "read",
    fetch_inbox_product: "read",
    summarize_thread_product: "read",
    "resource://product": "read",
  },
  samples: async ({ ctx, projectKey, agents, threadId }) => {
    await invoke(ensureProduct, ctx, { product_key: "matrix-product", name: "matrix-product" });
    await invoke(productsLink, ctx, { product_key: "matrix-product", project_key: projectKey });
    const green = { product_key: "matrix-product", agent_name: "GreenLake", registration_token: agents.GreenLake.token };
    return {
      inputs: {
        ensure_product: { product_key: "matrix-product" },
        products_link: { product_key: "matrix-product", project_key: projectKey },
        search_messages_product: { ...green, query: "matrix" },
        fetch_inbox_product: { ...green, agent_name: "BlueDog", registration_token: agents.BlueDog.token },
        summarize_thread_product: { ...green, thread_id: threadId },
        "resource://product": { key: "matrix-product" },
      },
    };
  },
};
