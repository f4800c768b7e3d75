import type { Clock } from "../../core/clock.js";
import { Backoff } from "../../core/backoff.js";

/** AWS IoT Core accepts one CONNECT per second per client id. */
export const MIN_CONNECT_INTERVAL_MS = 1000;

export interface ReconnectPolicyOptions {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** A connection must last this long for the backoff to start over. */
  readonly stableAfterMs: number;
  readonly clock: Clock;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

/**
 * When to try the broker again. Exponential backoff with full jitter; the backoff starts over
 * only when the last connection stayed up `stableAfterMs` (a CONNACK followed by a kick, as when
 * another client steals the client id, keeps backing off instead of looping); never two
 * CONNECTs within a second; after a credentials failure, a slow retry near the ceiling.
 */
export class ReconnectPolicy {
  private readonly backoff: Backoff;
  private lastConnectAt = Number.NEGATIVE_INFINITY;
  private connectedAt: number | null = null;

  constructor(private readonly options: ReconnectPolicyOptions) {
    this.backoff = new Backoff(options);
  }

  /** A CONNECT is being sent now. */
  connecting(): void {
    this.lastConnectAt = this.options.clock.monotonic();
    this.connectedAt = null;
  }

  /** The broker accepted the connection (CONNACK). */
  connected(): void {
    this.connectedAt = this.options.clock.monotonic();
  }

  /** Failures in a row since the backoff last started over. */
  get failures(): number {
    return this.backoff.failures;
  }

  /** The connection closed or could not be made: how long to wait before the next CONNECT. */
  disconnected(reason: "network" | "credentials" | "protocol"): number {
    const { clock, stableAfterMs, maxDelayMs, random } = this.options;
    const now = clock.monotonic();
    if (this.connectedAt !== null && now - this.connectedAt >= stableAfterMs) this.backoff.reset();
    this.connectedAt = null;
    let delay = this.backoff.next();
    if (reason !== "network") {
      // A refused certificate or policy will not heal in a second: retry slowly, near the ceiling.
      delay = Math.max(delay, Math.floor(maxDelayMs * (0.5 + random() / 2)));
    }
    return Math.max(delay, MIN_CONNECT_INTERVAL_MS - (now - this.lastConnectAt));
  }
}
