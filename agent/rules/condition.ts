/**
 * How a reading bears on a condition: `on` it holds, `off` it is over (below the clear band),
 * `hold` in between (the hysteresis band: nothing changes), `suppressed` it holds for a reason
 * that explains it (defrost, an open door: no raise, and a pending raise starts over), `unknown`
 * the reading cannot tell (the field is null).
 */
export type Verdict = "on" | "off" | "hold" | "suppressed" | "unknown";

export interface RaisePolicy {
  /** Raise after this many consecutive `on` readings... */
  readonly afterReadings: number;
  /** ...or once the condition has held this long (ms, event time); null: readings only. */
  readonly afterMs: number | null;
}

export type Transition =
  | { kind: "raised"; since: number; firstSeq: number }
  | { kind: "cleared"; since: number; firstSeq: number };

/**
 * One alert's state for one container: pending (the condition holds, not long enough yet),
 * raised, or quiet. Driven by readings in event time, so it behaves the same live and in a
 * replay, and needs no timers.
 */
export class Condition {
  private pendingSince: number | null = null;
  private pendingCount = 0;
  private pendingFirstSeq = 0;
  private raisedSince: number | null = null;
  private raisedFirstSeq = 0;

  get raised(): boolean {
    return this.raisedSince !== null;
  }

  /** Neither pending nor raised: only an `on` verdict can change anything. */
  get idle(): boolean {
    return this.pendingSince === null && this.raisedSince === null;
  }

  step(verdict: Verdict, t: number, seq: number, policy: RaisePolicy): Transition | null {
    switch (verdict) {
      case "on":
        if (this.raisedSince !== null) return null;
        if (this.pendingSince === null) {
          this.pendingSince = t;
          this.pendingCount = 0;
          this.pendingFirstSeq = seq;
        }
        this.pendingCount++;
        if (
          this.pendingCount >= policy.afterReadings ||
          (policy.afterMs !== null && t - this.pendingSince >= policy.afterMs)
        ) {
          this.raisedSince = this.pendingSince;
          this.raisedFirstSeq = this.pendingFirstSeq;
          this.pendingSince = null;
          return { kind: "raised", since: this.raisedSince, firstSeq: this.raisedFirstSeq };
        }
        return null;
      case "off": {
        this.pendingSince = null;
        if (this.raisedSince === null) return null;
        const since = this.raisedSince;
        this.raisedSince = null;
        return { kind: "cleared", since, firstSeq: this.raisedFirstSeq };
      }
      case "hold":
      case "suppressed":
        this.pendingSince = null;
        return null;
      case "unknown":
        return null;
    }
  }
}
