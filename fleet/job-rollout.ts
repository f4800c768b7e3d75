/** `jobExecutionsRolloutConfig.exponentialRate`, and its ceiling. */
export interface Rollout {
  readonly baseRatePerMinute: number;
  readonly incrementFactor: number;
  /** The rate grows by the factor each time this many more things succeeded. */
  readonly succeededToIncrease: number;
  readonly maximumPerMinute?: number;
}

/** `abortConfig`: cancel once `failedPercent` of the things notified so far failed. */
export interface Abort {
  readonly failedPercent: number;
  /** No abort before this many things were notified (AWS: minNumberOfExecutedThings). */
  readonly minExecuted: number;
  readonly failureTypes: readonly ("FAILED" | "TIMED_OUT" | "REJECTED")[];
}

/** A job's counts, as DescribeJob's jobProcessDetails gives them, and its own state. */
export interface JobSummary {
  readonly status: "IN_PROGRESS" | "CANCELED" | "COMPLETED";
  readonly notified: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly timedOut: number;
  readonly canceled: number;
  readonly inProgress: number;
  readonly queued: number;
  /** When the abort cancelled it (ms since the epoch), or null. */
  readonly abortedAt: number | null;
}

/** AWS IoT's ceiling on a rollout's rate, a minute. */
const MAXIMUM_PER_MINUTE = 1000;

/**
 * The pace of an exponential rollout: how many more things to notify after some time, with the
 * fractions of the rate carried over, and the rate multiplied each time another
 * `succeededToIncrease` things succeeded, up to the maximum.
 */
export class RolloutPace {
  private owed = 0;
  private succeededAtLastIncrease = 0;
  ratePerMinute: number;

  constructor(private readonly rollout: Rollout) {
    this.ratePerMinute = rollout.baseRatePerMinute;
  }

  /** Things due after `ms` more of the rollout. */
  due(ms: number): number {
    // Counted in thing-milliseconds (rate × time), not in fractions of a thing: a sum of
    // fractions drifts below the whole it should reach.
    this.owed += this.ratePerMinute * ms;
    const now = Math.floor(this.owed / 60_000);
    this.owed -= now * 60_000;
    return now;
  }

  /** The job's successes so far: the rate grows once for each step of them. */
  succeeded(total: number): void {
    while (total - this.succeededAtLastIncrease >= this.rollout.succeededToIncrease) {
      this.succeededAtLastIncrease += this.rollout.succeededToIncrease;
      this.ratePerMinute = Math.min(
        this.rollout.maximumPerMinute ?? MAXIMUM_PER_MINUTE,
        this.ratePerMinute * this.rollout.incrementFactor,
      );
    }
  }
}

/** Whether the abort's criteria are met: enough notified, and enough of them failed. */
export function abortDue(abort: Abort, summary: JobSummary): boolean {
  if (summary.notified < abort.minExecuted || summary.notified === 0) return false;
  const failures =
    (abort.failureTypes.includes("FAILED") ? summary.failed : 0) +
    (abort.failureTypes.includes("TIMED_OUT") ? summary.timedOut : 0);
  return (failures * 100) / summary.notified >= abort.failedPercent;
}
