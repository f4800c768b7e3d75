export interface BackoffOptions {
  /** Cap of the first delay, ms. */
  readonly initialDelayMs: number;
  /** Ceiling of every delay, ms. */
  readonly maxDelayMs: number;
  /** Uniform in [0, 1); injected so tests and fleet simulations are deterministic. */
  readonly random: () => number;
}

/**
 * Exponential backoff with full jitter: attempt n waits uniformly in [0, min(max, initial × 2^n)).
 * Full jitter spreads a fleet that lost the same broker at the same moment, instead of having
 * 10,000 gateways retry in waves (AWS Architecture Blog, "Exponential Backoff and Jitter").
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /**
   * The delay before the next attempt; each call counts as one more failure. `atLeast` widens
   * the span the jitter draws from (a fleet's connect window), never the ceiling's doubling.
   */
  next(atLeast = 0): number {
    const { initialDelayMs, maxDelayMs, random } = this.options;
    const cap = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(random() * Math.max(cap, atLeast));
  }

  /** Failures in a row since the last reset. */
  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
