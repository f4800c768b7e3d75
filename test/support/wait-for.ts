/**
 * Waits for a fact: `predicate` is asked again every `everyMs` until it holds, and the wait
 * fails after `deadlineMs` naming `what` (and `detail()`, if given, for what was seen instead).
 * The deadline is a guard against a hang, never the expected time: a busy machine only makes
 * the wait longer. Tests wait with this, not with a sleep.
 */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  deadlineMs: number,
  options: { everyMs?: number; detail?: () => string } = {},
): Promise<void> {
  const everyMs = options.everyMs ?? 50;
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) {
      const seen = options.detail ? `: ${options.detail()}` : "";
      throw new Error(`waited ${deadlineMs} ms for ${what}${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
