import type { Clock } from "../../core/clock.js";

export interface RateLimits {
  readonly messagesPerSecond: number;
  readonly bytesPerSecond: number;
}

/**
 * Keeps one connection under AWS IoT Core's quotas (100 publishes/s and 512 KiB/s per
 * connection), which throttles, then disconnects, a client above them. Two token buckets on the
 * monotonic clock, each holding at most one second's worth, so a drain after an outage runs at
 * the quota without a burst above it. Hand-written: two counters and a clock, where a library
 * would bring its own timers and no injected clock.
 */
export class RateLimiter {
  private messages: number;
  private bytes: number;
  private refilledAt: number;

  constructor(
    private readonly limits: RateLimits,
    private readonly clock: Clock,
  ) {
    this.messages = limits.messagesPerSecond;
    this.bytes = limits.bytesPerSecond;
    this.refilledAt = clock.monotonic();
  }

  /**
   * Takes one message of `size` bytes if both buckets allow it now and returns 0; otherwise takes
   * nothing and returns the ms to wait. A message larger than a second's bytes is let through
   * when the bucket is full, so it is never stuck.
   */
  take(size: number): number {
    this.refill();
    const { messagesPerSecond, bytesPerSecond } = this.limits;
    const need = Math.min(size, bytesPerSecond);
    if (this.messages >= 1 && this.bytes >= need) {
      this.messages -= 1;
      this.bytes -= size;
      return 0;
    }
    const waitMessages = this.messages >= 1 ? 0 : ((1 - this.messages) / messagesPerSecond) * 1000;
    const waitBytes = this.bytes >= need ? 0 : ((need - this.bytes) / bytesPerSecond) * 1000;
    return Math.max(1, Math.ceil(Math.max(waitMessages, waitBytes)));
  }

  private refill(): void {
    const now = this.clock.monotonic();
    const seconds = (now - this.refilledAt) / 1000;
    this.refilledAt = now;
    const { messagesPerSecond, bytesPerSecond } = this.limits;
    this.messages = Math.min(messagesPerSecond, this.messages + seconds * messagesPerSecond);
    this.bytes = Math.min(bytesPerSecond, this.bytes + seconds * bytesPerSecond);
  }
}
