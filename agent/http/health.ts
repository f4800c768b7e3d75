import type { Health, StorageState } from "../../core/gateway-status.js";

/** What /healthz judges, read from the running agent. All times monotonic ms. */
export interface HealthInputs {
  readonly running: boolean;
  readonly now: number;
  readonly startedAt: number;
  /** When the last sampling tick finished; null before the first. */
  readonly lastTickAt: number | null;
  /** The longest sampling interval of the agent's containers. */
  readonly maxIntervalMs: number;
  readonly lastCaptureFailure: { readonly at: number; readonly reason: string } | null;
  /** When the disk budget last evicted rows. */
  readonly lastEvictionAt: number | null;
  readonly connected: boolean;
  readonly backlog: number;
  readonly unreachableDevices: readonly string[];
  /** The outbox's storage (see GuardedOutbox). */
  readonly storage: StorageState;
}

/**
 * Healthy while the agent samples and either delivers or buffers within its budget. Buffering
 * is healthy (the link drops for days at sea); a stalled sampler, captures that fail and
 * evictions under the disk budget are not. A dead controller is reported (unreachableDevices)
 * but is not the agent's failure: restarting the agent would not bring it back.
 */
export function judgeHealth(h: HealthInputs): Health {
  const reasons: string[] = [];
  // Three intervals, plus room for a read timeout and a busy machine, before a stall is called.
  const window = 3 * h.maxIntervalMs + 10_000;
  if (!h.running) reasons.push("the agent is not running");
  else {
    const since = h.lastTickAt ?? h.startedAt;
    if (h.now - since > window)
      reasons.push(`sampling stalled: no tick for ${Math.round((h.now - since) / 1000)} s`);
    if (h.lastCaptureFailure && h.now - h.lastCaptureFailure.at <= window)
      reasons.push(`capture failing: ${h.lastCaptureFailure.reason}`);
    if (h.storage.failing)
      reasons.push(
        `storage failing since ${new Date(h.storage.since ?? 0).toISOString()}: ${h.storage.reason ?? "unknown"}; capturing into memory`,
      );
    if (h.lastEvictionAt !== null && h.now - h.lastEvictionAt <= window)
      reasons.push("outbox over its disk budget: evicting the oldest telemetry");
  }
  return {
    status: reasons.length === 0 ? "ok" : "failing",
    reasons,
    mode: h.connected ? "delivering" : "buffering",
    backlog: h.backlog,
    unreachableDevices: h.unreachableDevices,
  };
}
