import type { Clock } from "../../core/clock.js";
import { Backoff } from "../../core/backoff.js";

/** The share of the fleet's connect budget its reconnects aim at (see connectWindowMs). */
const BUDGET_SHARE = 0.8;

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
  /** Gateways sharing the account's connect budget (1 or absent: this one alone). */
  readonly fleetSize?: number;
  /** The account's connect budget, CONNECTs a second. */
  readonly connectsPerSecond?: number;
}

/**
 * The fleet's connect window, ms: over how long a fleet of `fleetSize` gateways spreads its
 * CONNECTs to stay at 80 % of the account's budget (0 for a gateway alone).
 */
export function connectWindowMs(fleetSize = 1, connectsPerSecond = 100): number {
  if (fleetSize <= 1) return 0;
  return Math.ceil((fleetSize / (connectsPerSecond * BUDGET_SHARE)) * 1000);
}

/**
 * When to try the broker again. Exponential backoff with full jitter; the backoff starts over
 * only when the last connection stayed up `stableAfterMs` (a CONNACK followed by a kick, as when
 * another client steals the client id, keeps backing off instead of looping); never two
 * CONNECTs within a second; after a credentials failure, a slow retry near the ceiling.
 *
 * The fleet's connect budget: every delay is drawn from at least the fleet's connect window
 * (fleetSize / connectsPerSecond), so a fleet that lost the broker at once comes back spread
 * over it, at the rate the account accepts. A CONNECT the broker turned away as busy (throttled,
 * over quota, no CONNACK in time) is not a failure to back off from: a doubled wait would only
 * leave the window idle and stretch the tail. It gets a fresh random moment of the window.
 */
export class ReconnectPolicy {
  private readonly backoff: Backoff;
  private lastConnectAt = Number.NEGATIVE_INFINITY;
  private connectedAt: number | null = null;
  /** When the last connection was lost: where the fleet's connect window starts. */
  private lostAt = Number.NEGATIVE_INFINITY;

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

  /**
   * The fleet's connect window, ms: over how long the fleet's CONNECTs spread. At 80 % of the
   * budget: uniform draws bunch by chance (10,000 over 20 s gives seconds of 550 and of 450),
   * and at 100 % half the seconds would go over and be throttled into a long tail.
   */
  get connectWindowMs(): number {
    return connectWindowMs(this.options.fleetSize, this.options.connectsPerSecond);
  }

  /** The connection closed or could not be made: how long to wait before the next CONNECT. */
  disconnected(reason: "network" | "credentials" | "protocol" | "busy"): number {
    const { clock, stableAfterMs, maxDelayMs, initialDelayMs, random } = this.options;
    const now = clock.monotonic();
    if (this.connectedAt !== null) {
      if (now - this.connectedAt >= stableAfterMs) this.backoff.reset();
      this.lostAt = now; // a wave starts: the fleet lost the broker about now
    }
    this.connectedAt = null;
    const window = this.connectWindowMs;
    const left = this.lostAt + window - now;
    let delay: number;
    if (reason === "busy" && left > 0) {
      // A fresh moment of what is left of this wave's window (at least a tenth of it): redrawn
      // over a whole window from now, a throttled gateway would come back long after the rest.
      delay = Math.floor(random() * Math.max(left, window / 10, initialDelayMs));
    } else {
      // Past the window (or alone), a broker still busy is backed off from like any failure.
      delay = this.backoff.next(window);
    }
    if (reason === "credentials" || reason === "protocol") {
      // A refused certificate or policy will not heal in a second: retry slowly, near the ceiling.
      delay = Math.max(delay, Math.floor(maxDelayMs * (0.5 + random() / 2)));
    }
    return Math.max(delay, MIN_CONNECT_INTERVAL_MS - (now - this.lastConnectAt));
  }
}
