import { ensureProduct, productResource, productsLink } from "./products";
import { fetchInboxProduct, searchMessagesProduct, summarizeThreadProduct } from "./reads";

// Products: several projects (repositories) read as one mail bus.
export const productOperations = {
  ensure: ensureProduct,
  link: productsLink,
  search: searchMessagesProduct,
  fetchInbox: fetchInboxProduct,
  summarizeThread: summarizeThreadProduct,
  get: productResource,
} as const;
