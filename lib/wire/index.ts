export * from "./function-ref.js";
export * from "./chunk-codec.js";
export * from "./remote-error.js";
export { freeNames, ALLOWED_GLOBALS } from "./free-names.js";
