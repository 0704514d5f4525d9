/** serve's log: one line per event, `TIME LEVEL message`, to stderr or the file a log4cxx config names. */

export type LogLevel = "debug" | "info" | "warn" | "error";

export type ServeLog = (level: LogLevel, message: string) => void;

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A log writing lines of `level` and above through `write`. */
export function lineLog(write: (line: string) => void, level: LogLevel = "info"): ServeLog {
  return (at, message) => {
    if (RANK[at] >= RANK[level])
      write(`${new Date().toISOString()} ${at.toUpperCase()} ${message.replace(/[\r\n]+/g, " ")}\n`);
  };
}

export const silentLog: ServeLog = () => {};
