/** Shared and frozen: most readings close no window, and allocate nothing for it. */
const NONE: readonly WindowTally[] = Object.freeze([]);

/** One window's tally of readings over the threshold. */
export interface WindowTally {
  readonly start: number;
  readonly end: number;
  readingsOver: number;
  maxTemperature: number;
  firstSeq: number;
  lastSeq: number;
  threshold: number;
}

/**
 * Whether a window ending (exclusive) at `end` has fired once the watermark is at `watermark`:
 * when the watermark reaches the window's last millisecond, `end - 1`, as Flink decides it
 * (TimeWindowUtil.isWindowFired: `watermark >= windowEnd - 1`). One millisecond earlier than
 * "the watermark reached the end": a reading exactly `lateness` behind the newest one, in a
 * window's last millisecond, is late in Flink, so it is late here too.
 */
export function isFired(end: number, watermark: number): boolean {
  return end - 1 <= watermark;
}

/**
 * The seed's rule for one container, in event time: tumbling windows of `windowMs` aligned to
 * the epoch (Flink's TUMBLE), counting readings strictly above the threshold. The watermark
 * trails the newest reading by `latenessMs`; a window closes when the watermark reaches its last
 * millisecond (see `isFired`), and a reading for a closed window is late: counted, and left
 * out, as the cloud drops it.
 *
 * Hand-written because it is a few dozen lines on the hot path (over a million readings a
 * second is the target) and must match the cloud's SQL exactly; a stream library would add
 * more than it saves.
 */
export class TumblingWindows {
  private readonly open = new Map<number, WindowTally>();
  private newest = Number.NEGATIVE_INFINITY;
  /** Readings that arrived after their window closed. */
  late = 0;

  constructor(
    private readonly windowMs: number,
    private readonly latenessMs: number,
  ) {}

  /** The event-time watermark: windows ending at or before it are closed. */
  get watermark(): number {
    return this.newest - this.latenessMs;
  }

  /**
   * Adds a reading at event time `t`. Returns the windows this closed that had readings over
   * the threshold (oldest first), usually none.
   */
  add(
    t: number,
    temperature: number | null,
    seq: number,
    threshold: number,
  ): readonly WindowTally[] {
    const start = Math.floor(t / this.windowMs) * this.windowMs;
    if (isFired(start + this.windowMs, this.watermark)) {
      this.late++;
      return NONE;
    }
    if (temperature !== null && temperature > threshold) {
      const tally = this.open.get(start);
      if (tally) {
        tally.readingsOver++;
        if (temperature > tally.maxTemperature) tally.maxTemperature = temperature;
        if (seq < tally.firstSeq) tally.firstSeq = seq;
        if (seq > tally.lastSeq) tally.lastSeq = seq;
        tally.threshold = threshold;
      } else {
        this.open.set(start, {
          start,
          end: start + this.windowMs,
          readingsOver: 1,
          maxTemperature: temperature,
          firstSeq: seq,
          lastSeq: seq,
          threshold,
        });
      }
    }
    if (t > this.newest) {
      this.newest = t;
      return this.close(this.watermark);
    }
    return NONE;
  }

  /**
   * Closes windows on the wall clock too, so a container that stopped reporting (a dead
   * sensor) still gets its last window's alert: windows ending at or before `now - lateness`.
   */
  advanceTo(now: number): readonly WindowTally[] {
    return this.close(now - this.latenessMs);
  }

  /** Closes every open window (at shutdown, or at the end of a replay). */
  flush(): readonly WindowTally[] {
    return this.close(Number.POSITIVE_INFINITY);
  }

  /** Whether the window holding event time `t` has a reading over the threshold so far. */
  hasOverAt(t: number): boolean {
    return this.open.has(Math.floor(t / this.windowMs) * this.windowMs);
  }

  private close(until: number): readonly WindowTally[] {
    if (this.open.size === 0) return NONE;
    const closed: WindowTally[] = [];
    for (const [start, tally] of this.open) {
      if (isFired(tally.end, until)) {
        closed.push(tally);
        this.open.delete(start);
      }
    }
    return closed.length > 1 ? closed.sort((a, b) => a.start - b.start) : closed;
  }
}
