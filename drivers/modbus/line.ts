import type { Logger } from "pino";
import { Backoff } from "../../core/backoff.js";
import type { Metrics } from "../../core/metrics.js";
import type { ModbusTransport } from "./transport.js";

type LineState = "closed" | "opening" | "open" | "down";

export interface LineOptions {
  /** The port path or host:port, for logs and metric labels. */
  readonly name: string;
  readonly transport: ModbusTransport;
  /** Reopening a lost port: full-jitter backoff between these bounds. */
  readonly reopen: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly random: () => number;
}

/**
 * A Modbus line's life: opened on first use, lost when the transport says so (an unplugged USB
 * adapter, a dropped TCP connection) or a request finds it gone, and reopened with full-jitter
 * backoff in the background, without a restart of the agent.
 */
export class ModbusLine {
  private state: LineState = "closed";
  private opening: Promise<void> | null = null;
  private reopenTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private everOpened = false;
  private readonly backoff: Backoff;

  constructor(private readonly options: LineOptions) {
    this.backoff = new Backoff({ ...options.reopen, random: options.random });
    options.transport.onLost((reason) => {
      this.lost(reason);
    });
  }

  /** Opens the line if it is not open; failures are retried in the background. */
  start(): void {
    if (this.state === "closed" && !this.closed) void this.open();
  }

  /** Whether the line is open, opening it first if it is closed. */
  async ready(): Promise<boolean> {
    if (this.state === "closed") await this.open();
    else if (this.state === "opening") await this.opening;
    return this.state === "open";
  }

  /** The line is gone: closed now, reopened with backoff. */
  lost(reason: string): void {
    if (this.state !== "open" || this.closed) return;
    this.state = "down";
    this.options.metrics.increment("modbus_port_lost", 1, { bus: this.options.name });
    this.options.logger.warn(
      { bus: this.options.name, reason },
      "Modbus line lost (unplugged?): reopening with backoff",
    );
    void this.options.transport.close();
    this.scheduleReopen(this.backoff.next());
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    this.state = "closed";
    await this.options.transport.close();
  }

  private open(): Promise<void> {
    if (this.state === "opening" && this.opening) return this.opening;
    if (this.state === "open" || this.closed) return Promise.resolve();
    this.state = "opening";
    this.opening = this.tryOpen().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async tryOpen(): Promise<void> {
    const { transport, metrics, logger, name } = this.options;
    try {
      await transport.open();
      if (this.closed) {
        await transport.close();
        return;
      }
      const reopened = this.everOpened;
      this.everOpened = true;
      this.state = "open";
      this.backoff.reset();
      metrics.increment("modbus_port_opens", 1, { bus: name });
      logger.info({ bus: name }, reopened ? "Modbus line reopened" : "Modbus line open");
    } catch (error) {
      this.state = "down";
      const delay = this.backoff.next();
      if (this.backoff.failures === 1 || this.backoff.failures % 20 === 0) {
        logger.warn(
          { bus: name, err: error, retryInMs: delay, attempts: this.backoff.failures },
          "cannot open the Modbus line; retrying with backoff",
        );
      }
      this.scheduleReopen(delay);
    }
  }

  private scheduleReopen(delay: number): void {
    if (this.reopenTimer || this.closed) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      if (this.state === "down") {
        this.state = "closed";
        void this.open();
      }
    }, delay);
  }
}
