import type { Clock } from "../../core/clock.js";

/** What a health report is judged by: a change of any of these is news, sent at once. */
export interface HealthClass {
  /** More waits in the outbox than a few ticks' worth: the gateway is behind. */
  readonly backlog: boolean;
  readonly clock: string;
  /** Devices or sensors that fail, sorted. */
  readonly failing: readonly string[];
  /** The outbox's storage fails (storage_failing raised). */
  readonly storage: boolean;
}

export interface HealthReporterOptions {
  /** The routine report's period. */
  readonly intervalMs: number;
  /** Never two reports closer than this: a flapping state does not flood the shadow. */
  readonly minGapMs: number;
  /** How often the class is looked at. */
  readonly checkMs?: number;
  readonly clock: Clock;
  /** The class now: read every check, so cheap (in-memory tallies, no query). */
  readonly classify: () => HealthClass;
  /** The state to report: read only when a report goes out. */
  readonly report: () => Record<string, unknown>;
  /** Sends one report; false when it could not leave (offline): tried again on reconnect. */
  readonly send: (reported: Record<string, unknown>) => boolean;
}

/**
 * When the gateway tells the `health` shadow how it is: every `intervalMs`, at once when its
 * class changes (a backlog starts or drains, the clock's trust changes, a device fails or
 * recovers) and when the link comes back, never more often than `minGapMs`. One small message,
 * outside the outbox: health is about now, and a stale report is worth nothing after an outage.
 */
export class HealthReporter {
  private timer: NodeJS.Timeout | null = null;
  private lastSentAt: number | null = null;
  private lastClass = "";
  /** A report is owed (a class change inside the gap, or one that could not leave). */
  private owed = true;

  constructor(private readonly options: HealthReporterOptions) {}

  start(): void {
    this.timer = setInterval(() => this.check(), this.options.checkMs ?? 1000);
    this.timer.unref();
    this.check();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The link is back: report as soon as the gap allows. */
  connected(): void {
    this.owed = true;
    this.check();
  }

  /** Looks at the class and the clock; sends when a report is due and the gap allows. */
  check(): void {
    const now = this.options.clock.monotonic();
    const key = JSON.stringify(this.options.classify());
    if (key !== this.lastClass) this.owed = true;
    const due =
      this.owed || this.lastSentAt === null || now - this.lastSentAt >= this.options.intervalMs;
    const gapOk = this.lastSentAt === null || now - this.lastSentAt >= this.options.minGapMs;
    if (!due || !gapOk) return;
    if (this.options.send(this.options.report())) {
      this.lastSentAt = now;
      this.lastClass = key;
      this.owed = false;
    }
  }
}
