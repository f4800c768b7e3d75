import { isClockPlausible, type Clock } from "../core/clock.js";
import type { ClockState } from "../core/record.js";

/** A step of the wall clock against the monotonic clock larger than this is a jump. */
export const JUMP_THRESHOLD_MS = 2000;

/** What the guard learnt at one observation. */
export interface ClockObservation {
  readonly state: ClockState;
  /** The epoch readings captured now belong to; null while the clock is trusted. */
  readonly epoch: number | null;
  /**
   * Wall minus monotonic time of that epoch. A reading of the epoch is stamped monotonic + offset,
   * not the wall clock, so one read just after a step still fits its epoch's correction.
   */
  readonly offset: number;
  /** Set when the clock just became trustworthy: how far to move each earlier epoch's readings. */
  readonly corrections: readonly { epoch: number; deltaMs: number }[];
}

/**
 * Watches the wall clock against the monotonic clock. A Raspberry Pi has no RTC: it boots at 1970
 * or at a stale fake-hwclock time, and steps when NTP syncs. The wall clock is distrusted while
 * it is before the build's floor or while the system does not say it is synchronized; a step of
 * wall minus monotonic beyond JUMP_THRESHOLD_MS is a correction by NTP.
 *
 * Readings captured while distrusted belong to an epoch with a fixed wall–monotonic offset. When
 * the clock becomes trustworthy, each epoch's readings still in the outbox are moved by the
 * difference between the trusted offset and their epoch's offset: their true time, to within
 * the monotonic clock's drift.
 */
export class ClockGuard {
  private offset: number | null = null;
  private trusted = false;
  private epoch = 0;
  /** Offsets of the distrusted epochs of this process, not yet corrected. */
  private readonly pending = new Map<number, number>();

  /**
   * @param synchronized whether the system says its clock is synchronized (systemd-timesyncd's
   *   flag file); the default trusts any plausible time.
   */
  constructor(
    private readonly clock: Clock,
    private readonly synchronized: () => boolean = () => true,
  ) {}

  /** Whether the wall clock stepped while it was trusted (reported, not corrected). */
  steppedWhileTrusted = false;

  observe(): ClockObservation {
    const wall = this.clock.now();
    const offset = wall - this.clock.monotonic();
    const jumped = this.offset !== null && Math.abs(offset - this.offset) > JUMP_THRESHOLD_MS;
    this.offset = offset;
    this.steppedWhileTrusted = jumped && this.trusted;
    if (!isClockPlausible(wall) || !this.synchronized()) {
      if (this.trusted || jumped || !this.pending.has(this.epoch)) this.epoch++;
      this.trusted = false;
      this.pending.set(this.epoch, offset);
      return { state: "unsynced", epoch: this.epoch, offset, corrections: [] };
    }
    const corrections =
      !this.trusted || jumped
        ? [...this.pending].map(([epoch, old]) => ({ epoch, deltaMs: offset - old }))
        : [];
    this.pending.clear();
    this.trusted = true;
    return { state: "synced", epoch: null, offset, corrections };
  }
}
