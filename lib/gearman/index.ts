export * from "./packet-types.js";
export * from "./packet.js";
export * from "./decoder.js";
export * from "./errors.js";
export * from "./address.js";
export * from "./connection.js";
