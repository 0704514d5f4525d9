/**
 * What serve reads of a Driveshaft `--logconfig` (log4cxx XML): the root
 * logger's level (`<root><priority value="…"/>` or `<level value="…"/>`) and
 * the file of the first FileAppender / RollingFileAppender
 * (`<param name="File" value="…"/>`). Everything else (layouts, other
 * appenders, per-logger levels) is ignored. A file that cannot be read or
 * understood never stops serve: `warning` says why and the defaults apply
 * (level info, lines to stderr).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { LogLevel } from "./serve-log.js";

export interface LogSettings {
  readonly level: LogLevel;
  /** Absolute path of the log file, or undefined for stderr. */
  readonly file: string | undefined;
  readonly warning: string | undefined;
}

const LEVELS: Record<string, LogLevel> = {
  trace: "debug",
  debug: "debug",
  info: "info",
  warn: "warn",
  error: "error",
  fatal: "error",
  off: "error",
  all: "debug",
};

export function readLogConfig(file: string | undefined): LogSettings {
  if (file === undefined) return { level: "info", file: undefined, warning: undefined };
  let xml: string;
  try {
    xml = readFileSync(file, "utf8");
  } catch (error) {
    return {
      level: "info",
      file: undefined,
      warning: `--logconfig ${file}: ${(error as Error).message}; logging at info to stderr`,
    };
  }
  const root = /<root\b[^>]*>([\s\S]*?)<\/root>/i.exec(xml)?.[1] ?? "";
  const levelText = /<(?:priority|level)\b[^>]*\bvalue\s*=\s*"([^"]*)"/i.exec(root)?.[1]?.toLowerCase();
  const level = levelText === undefined ? undefined : LEVELS[levelText];
  let appenderFile: string | undefined;
  for (const appender of xml.matchAll(/<appender\b([^>]*)>([\s\S]*?)<\/appender>/gi)) {
    if (!/class\s*=\s*"[^"]*FileAppender"/i.test(appender[1])) continue;
    const value = /<param\b[^>]*\bname\s*=\s*"file"[^>]*\bvalue\s*=\s*"([^"]*)"/i.exec(appender[2])?.[1];
    if (value) {
      appenderFile = path.resolve(path.dirname(file), value);
      break;
    }
  }
  const warning = !/<(?:log4j:)?configuration\b/i.test(xml)
    ? `--logconfig ${file}: not a log4cxx XML configuration; logging at info to stderr`
    : levelText !== undefined && level === undefined
      ? `--logconfig ${file}: unknown root level "${levelText}"; logging at info`
      : undefined;
  if (warning && !/<(?:log4j:)?configuration\b/i.test(xml)) return { level: "info", file: undefined, warning };
  return { level: level ?? "info", file: appenderFile, warning };
}
