export interface RampOptions {
  readonly count: number;
  readonly perSecond: number;
  /** At most this many started and not yet connected: a ramp faster than the broker and the
   * cores can shake hands only makes handshakes time out and gateways back off. */
  readonly maxPending?: number;
  /** How many started gateways are not connected yet. */
  readonly pending?: () => number;
  readonly startOne: (index: number) => void;
  readonly now?: () => number;
}

/**
 * Starts `count` things in order on a 50 ms tick, at most `perSecond` and at most `maxPending`
 * waiting at once: the fleet's ramp. Each tick starts what the rate allows since the ramp
 * began, so a tick delayed by a busy event loop catches up instead of slowing the ramp down.
 */
export class Ramp {
  private started = 0;
  private timer: NodeJS.Timeout | null = null;
  private beganAt = 0;
  private readonly now: () => number;

  constructor(private readonly options: RampOptions) {
    this.now = options.now ?? Date.now;
  }

  get done(): number {
    return this.started;
  }

  start(): void {
    this.beganAt = this.now();
    this.tick();
    if (this.started < this.options.count) this.timer = setInterval(() => this.tick(), 50);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const { count, perSecond, maxPending = Infinity, pending = () => 0 } = this.options;
    const byRate = 1 + Math.floor(((this.now() - this.beganAt) / 1000) * perSecond);
    const byPending = this.started + Math.max(0, maxPending - pending());
    const due = Math.min(count, byRate, byPending);
    while (this.started < due) this.options.startOne(this.started++);
    if (this.started >= count) this.stop();
  }
}
