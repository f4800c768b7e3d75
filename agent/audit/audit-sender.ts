import type { Logger } from "pino";

import { CHECKPOINT_SCHEMA } from "../../core/audit/checkpoint.js";
import type { Metrics } from "../../core/metrics.js";
import type { AuditRow } from "../outbox/audit-trail.js";
import type { SessionLink } from "../publisher/broker-client.js";
import type { LinkSession } from "../publisher/connection.js";
import { drainWait } from "../publisher/drain-wait.js";

/** What the sender needs of the outbox: sign, read what waits, drop what was acknowledged. */
export interface AuditQueue {
  /** Signs and queues a checkpoint if the log grew; false when nothing was signed. */
  signCheckpoint(): boolean;
  queued(afterId: number, limit: number): AuditRow[];
  delivered(ids: readonly number[]): void;
}

export interface AuditSenderOptions {
  /** The gateway's audit topic (`dt/reefer/<gateway>/audit`). */
  readonly topic: string;
  readonly gatewayId: string;
  readonly checkpointMs: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** Messages awaiting PUBACK at most: checkpoints and gap records are few and small. */
const MAX_INFLIGHT = 8;

/**
 * Signs a checkpoint of the audit log every `checkpointMs` while it grows, and at a graceful
 * stop, and publishes what the audit outbox holds (checkpoints, gap records) at QoS 1 on each
 * broker connection; a row leaves only on its PUBACK, so a checkpoint signed offline goes out
 * when the link is back. A checkpoint travels as JSON, `{"schema":"reefer.checkpoint.v1",
 * "gateway_id", "note"}`, so that every consumer of dt/reefer/# can parse every message.
 */
export class AuditSender implements LinkSession {
  private link: SessionLink | null = null;
  /** Bumped on every link, so acknowledgements of an older one are ignored. */
  private generation = 0;
  private cursor = 0;
  private readonly inflight = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private drained: (() => void) | null = null;

  constructor(
    private readonly queue: AuditQueue,
    private readonly options: AuditSenderOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.sign();
    }, this.options.checkpointMs);
    this.timer.unref();
  }

  up(link: SessionLink): void {
    this.link = link;
    this.generation++;
    this.cursor = 0;
    this.inflight.clear();
    this.send();
  }

  down(): void {
    this.link = null;
    this.inflight.clear();
    this.cursor = 0;
  }

  /**
   * A graceful stop: the last checkpoint signed (it covers every reading committed), and what
   * waits sent, for up to `drainMs` while the link is up; the rest goes at the next start.
   */
  async stop(drainMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sign();
    if (!this.link || this.inflight.size === 0) return;
    const wait = drainWait(drainMs);
    this.drained = wait.done;
    await wait.ended;
    this.drained = null;
  }

  private sign(): void {
    try {
      if (this.queue.signCheckpoint()) this.options.metrics.increment("audit_checkpoints");
    } catch (error) {
      // The log stays as it is; the next interval tries again. A failing disk is the storage
      // watch's to report.
      this.options.logger.warn({ err: error }, "could not sign an audit checkpoint");
      return;
    }
    this.send();
  }

  private send(): void {
    const link = this.link;
    if (!link) return;
    const generation = this.generation;
    let rows: AuditRow[];
    try {
      rows = this.queue.queued(this.cursor, MAX_INFLIGHT - this.inflight.size);
    } catch (error) {
      this.options.logger.warn({ err: error }, "could not read the audit outbox");
      return;
    }
    for (const row of rows) {
      this.cursor = row.id;
      this.inflight.add(row.id);
      link.publish(this.options.topic, this.message(row), 1, (error) => {
        this.acknowledged(generation, row.id, error);
      });
    }
  }

  private message(row: AuditRow): string {
    if (row.kind === "gap") return row.payload;
    return JSON.stringify({
      schema: CHECKPOINT_SCHEMA,
      gateway_id: this.options.gatewayId,
      note: row.payload,
    });
  }

  private acknowledged(generation: number, id: number, error: Error | undefined): void {
    if (generation !== this.generation || !this.inflight.delete(id)) return;
    if (error) {
      // Sent again on the next connection (the cursor starts over there).
      this.options.logger.debug({ err: error }, "audit message not acknowledged");
      return;
    }
    try {
      this.queue.delivered([id]);
    } catch (failure) {
      this.options.logger.warn({ err: failure }, "could not mark an audit message delivered");
    }
    this.options.metrics.increment("audit_messages_sent");
    if (this.inflight.size === 0) this.drained?.();
    this.send();
  }
}
