/**
 * Time, injected. Every component asks its clock, never `Date.now()` directly, so that a fleet
 * simulator can run thousands of agents on one process and tests can fake time.
 */
export interface Clock {
  /** Wall-clock time, ms since the epoch. May be wrong (a Pi has no RTC) and may jump. */
  now(): number;
  /** Monotonic time, ms from an arbitrary origin; never jumps. For durations only. */
  monotonic(): number;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
});

/**
 * Earliest wall-clock time this build will believe. A Pi boots at 1970 or at a stale
 * fake-hwclock time; a clock before this floor is certainly wrong, so readings are stamped
 * `clock: "unsynced"`.
 */
export const CLOCK_FLOOR_MS = Date.UTC(2026, 0, 1);

export function isClockPlausible(wallMs: number): boolean {
  return wallMs >= CLOCK_FLOOR_MS;
}
