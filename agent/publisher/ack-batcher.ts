import type { Logger } from "pino";
import type { PublishQueue } from "../outbox/publish-queue.js";

/** Acknowledged rows are deleted in batches: at this many, or after FLUSH_MS. */
const FLUSH_ROWS = 500;
const FLUSH_MS = 20;

/**
 * PUBACKs arrive one by one; their rows are accepted in one transaction per batch. Until then
 * they stay in flight in the queue (never taken twice); a crash before the flush re-sends them.
 */
export class AckBatcher {
  private acked: number[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly queue: PublishQueue,
    private readonly logger: Logger,
  ) {}

  add(ids: readonly number[]): void {
    this.acked.push(...ids);
    if (this.acked.length >= FLUSH_ROWS) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.flush();
    }, FLUSH_MS);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.acked.length === 0) return;
    const ids = this.acked;
    this.acked = [];
    try {
      this.queue.accept(ids);
    } catch (error) {
      // The rows stay in the outbox and will be sent again: a duplicate, never a loss.
      this.logger.error({ err: error, rows: ids.length }, "could not record acknowledgements");
    }
  }
}
