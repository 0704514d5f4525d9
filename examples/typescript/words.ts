/** Imported by word-count.ts, to show that a module function's own imports load too. */
export const words = (text: string): string[] => text.split(/\s+/).filter((word) => word !== "");
