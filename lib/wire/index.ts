export * from "./function-ref.js";
export * from "./chunk-codec.js";
export * from "./remote-error.js";
export { freeNames, ALLOWED_GLOBALS } from "./free-names.js";
export { packNumbers, unpackNumbers, PACK_AT_LEAST } from "./packed-numbers.js";
