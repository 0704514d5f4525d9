/** Small helpers for Gearman tests: child processes that print lines, and waiting for a condition. */
import { spawn, type ChildProcess } from "node:child_process";

export interface LineProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first line (already printed or to come) that matches. */
  waitFor(pattern: RegExp, limitMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startLineProcess(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): LineProcess {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: options.env });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let buffer = "";
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    lines.push(...parts);
    for (const wake of waiters) wake();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  return {
    child,
    lines,
    waitFor(pattern, limitMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.find((l) => pattern.test(l));
          if (!line) return;
          cleanup();
          resolve(line);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no line matching ${pattern} within ${limitMs} ms; output:\n${lines.join("\n")}`));
        }, limitMs);
        const onExit = () => {
          check();
          cleanup();
          reject(
            new Error(
              `process exited (${child.exitCode}) before printing ${pattern}; output:\n${lines.join("\n")}${buffer}`,
            ),
          );
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off("exit", onExit);
        };
        waiters.add(check);
        child.once("exit", onExit);
        check();
      });
    },
    kill(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill(signal);
      });
    },
  };
}

/** Polls `condition` until it holds (bounded): for state only visible by asking, e.g. admin output. */
export async function eventually<T>(
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  limitMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
