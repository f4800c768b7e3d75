/*
 * Written by hand rather than node:timers/promises' setTimeout with a signal: that one runs on
 * Node's internal timers, which vitest's fake timers do not replace, and the update manager's
 * waits are tested under fake time.
 */

/** A wait that ends early when the job is dropped; on the global timers, so tests can fake them. */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
