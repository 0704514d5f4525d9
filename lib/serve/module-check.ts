/**
 * Checks a module pool's `job_processing_module` before the pool serves (at start, and on a reload that adds or
 * changes it): the file exists, it can be imported, and the export names a function. Without it, a pool whose
 * module is missing or broken would start without a word and then fail every job.
 *
 * The module is imported in a thread of its own, as the executor's threads import it, and the thread is ended
 * after the answer, so nothing the module starts at import stays behind in serve.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/** How long a module may take to load (its top-level awaits included) before the check gives up. */
export const MODULE_CHECK_TIMEOUT_MS = 30_000;

/** Runs in the checking thread (CommonJS, evaluated): imports the module and reports what its export is. */
const THREAD = `
const { parentPort, workerData } = require("node:worker_threads");
import(workerData.specifier).then(
  (module) => parentPort.postMessage({ type: typeof module[workerData.exportName] }),
  (error) => parentPort.postMessage({ failed: error instanceof Error ? String(error.stack ?? error) : String(error) }),
);
`;

/** What is wrong with `specifier#exportName` as a pool's handler, or undefined when it loads and is a function. */
export async function moduleProblem(
  specifier: string,
  exportName: string,
  timeoutMs = MODULE_CHECK_TIMEOUT_MS,
): Promise<string | undefined> {
  if (specifier.startsWith("file:")) {
    const file = fileURLToPath(specifier);
    if (!existsSync(file)) return `${file}: no such file`;
  }
  const worker = new Worker(THREAD, { eval: true, workerData: { specifier, exportName }, stdout: true });
  worker.stdout.resume(); // what the module prints while loading is not serve's output
  try {
    const answer = await new Promise<{ type?: string; failed?: string }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${specifier} did not finish loading within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      worker.once("message", (message: { type?: string; failed?: string }) => {
        clearTimeout(timer);
        resolve(message);
      });
      worker.once("error", (error) => {
        clearTimeout(timer);
        resolve({ failed: String(error.stack ?? error) });
      });
      worker.once("exit", (code) => {
        clearTimeout(timer);
        resolve({ failed: `the thread loading it exited (code ${code}) before it loaded` });
      });
    });
    if (answer.failed !== undefined) return `${specifier} cannot be imported: ${firstLines(answer.failed)}`;
    if (answer.type !== "function") return `${specifier} exports no function called ${exportName} (got ${answer.type})`;
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await worker.terminate();
  }
}

/** An error's message and the frame it was thrown at: enough to find it, short enough for a log line. */
function firstLines(stack: string): string {
  return stack
    .split("\n")
    .slice(0, 2)
    .map((line) => line.trim())
    .join(" ");
}
