import { setMaxListeners } from "node:events";

/** Case budgets: an AbortSignal that fires past a deadline, and a way for any promise to give up on it. */

/** Settles like `promise`, or rejects with the signal's reason as soon as `signal` fires. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** A signal that fires after `seconds` (or when `parent` fires), with a reason naming the case. */
export function budgetSignal(
  caseName: string,
  seconds: number,
  parent?: AbortSignal,
): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // every job in flight may wait on it
  const timer = setTimeout(
    () => controller.abort(new Error(`case ${caseName} ran past its budget of ${seconds} s`)),
    seconds * 1000,
  );
  const onParent = () => controller.abort(parent!.reason);
  parent?.addEventListener("abort", onParent, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
  };
}
