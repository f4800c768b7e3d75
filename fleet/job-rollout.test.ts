import { describe, expect, it } from "vitest";
import { abortDue, RolloutPace, type JobSummary } from "./job-rollout.js";

const summary = (counts: Partial<JobSummary>): JobSummary => ({
  status: "IN_PROGRESS",
  notified: 0,
  succeeded: 0,
  failed: 0,
  timedOut: 0,
  canceled: 0,
  inProgress: 0,
  queued: 0,
  abortedAt: null,
  ...counts,
});

describe("a job's rollout and abort (the Jobs stand-in's)", () => {
  it("notifies at the base rate, fractions carried over, and grows per step of successes", () => {
    const pace = new RolloutPace({
      baseRatePerMinute: 10,
      incrementFactor: 2,
      succeededToIncrease: 5,
      maximumPerMinute: 30,
    });
    let notified = 0;
    for (let i = 0; i < 240; i++) notified += pace.due(250);
    expect(notified).toBe(10);
    pace.succeeded(4);
    expect(pace.ratePerMinute).toBe(10);
    pace.succeeded(5);
    expect(pace.ratePerMinute).toBe(20);
    // Two steps at once grow it twice, up to the maximum.
    pace.succeeded(15);
    expect(pace.ratePerMinute).toBe(30);
  });

  it("aborts once enough were notified and enough of them failed, counting the named failures", () => {
    const abort = { failedPercent: 5, minExecuted: 100, failureTypes: ["FAILED" as const] };
    expect(abortDue(abort, summary({ notified: 99, failed: 50 }))).toBe(false);
    expect(abortDue(abort, summary({ notified: 100, failed: 4 }))).toBe(false);
    expect(abortDue(abort, summary({ notified: 100, failed: 5 }))).toBe(true);
    // Timed-out executions count only when the criteria name them.
    expect(abortDue(abort, summary({ notified: 100, timedOut: 9 }))).toBe(false);
    expect(
      abortDue(
        { ...abort, failureTypes: ["FAILED", "TIMED_OUT"] },
        summary({ notified: 100, failed: 2, timedOut: 3 }),
      ),
    ).toBe(true);
  });
});
