export interface CircuitBreakerOptions {
  /** Failed polls in a row that open the circuit. */
  readonly failuresToOpen: number;
  /** How long an open circuit waits before the first probe, ms. */
  readonly probeAfterMs: number;
  /** Ceiling of that wait as failed probes double it, ms. */
  readonly maxProbeAfterMs: number;
}

export type CircuitState = "closed" | "open" | "half-open";

/**
 * One slave's circuit breaker. A dead slave on a shared RS-485 bus costs a full timeout per
 * request, time the live slaves need; after `failuresToOpen` failures in a row the breaker stops
 * sending to it, then lets one probe through after `probeAfterMs`, doubling the wait after each
 * failed probe. Time is the caller's monotonic clock, so it runs under fake time in tests.
 */
export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openUntil = 0;
  private openings = 0;
  private probing = false;

  constructor(private readonly options: CircuitBreakerOptions) {}

  get state(): CircuitState {
    if (this.openings === 0) return "closed";
    return this.probing ? "half-open" : "open";
  }

  /** Failures in a row; a slave that has failed yields the bus to the healthy ones. */
  get failures(): number {
    return this.consecutiveFailures;
  }

  /** May a request go out now? In the open state, the first call after the wait is the probe. */
  allow(now: number): boolean {
    if (this.openings === 0) return true;
    if (this.probing) return false;
    if (now < this.openUntil) return false;
    this.probing = true;
    return true;
  }

  /** Milliseconds until the next probe may go, 0 when a request may go now. */
  waitMs(now: number): number {
    if (this.openings === 0 || this.probing) return 0;
    return Math.max(0, this.openUntil - now);
  }

  succeeded(): void {
    this.consecutiveFailures = 0;
    this.openings = 0;
    this.probing = false;
  }

  /** Returns true when this failure opened (or re-opened) the circuit. */
  failed(now: number): boolean {
    this.consecutiveFailures++;
    const wasProbe = this.probing;
    this.probing = false;
    if (
      !wasProbe &&
      (this.openings > 0 || this.consecutiveFailures < this.options.failuresToOpen)
    ) {
      return false;
    }
    const wait = Math.min(
      this.options.maxProbeAfterMs,
      this.options.probeAfterMs * 2 ** Math.min(this.openings, 20),
    );
    this.openings++;
    this.openUntil = now + wait;
    return true;
  }

  /** A probe that was let through but never sent (the read was cancelled): let the next one go. */
  abandonedProbe(): void {
    this.probing = false;
  }
}
