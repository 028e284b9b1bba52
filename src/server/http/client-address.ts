/**
 * Set by the node:http edge on every API request from the socket's peer address (a value the
 * client sent under this name is replaced), for limits keyed by client: failed authentications.
 */
export const CLIENT_ADDRESS_HEADER = "x-mailroom-client-address";
