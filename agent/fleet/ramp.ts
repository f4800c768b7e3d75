/**
 * Starts `count` things at `perSecond`, in order, on a 50 ms tick: the fleet's ramp. Each tick
 * starts what the rate allows since the ramp began, so a tick delayed by a busy event loop
 * catches up instead of slowing the ramp down.
 */
export class Ramp {
  private started = 0;
  private timer: NodeJS.Timeout | null = null;
  private beganAt = 0;

  constructor(
    private readonly count: number,
    private readonly perSecond: number,
    private readonly startOne: (index: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get done(): number {
    return this.started;
  }

  start(): void {
    this.beganAt = this.now();
    this.tick();
    if (this.started < this.count) this.timer = setInterval(() => this.tick(), 50);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const due = Math.min(
      this.count,
      1 + Math.floor(((this.now() - this.beganAt) / 1000) * this.perSecond),
    );
    while (this.started < due) this.startOne(this.started++);
    if (this.started >= this.count) this.stop();
  }
}
