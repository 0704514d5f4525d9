export * from "./gearman/index.js";
