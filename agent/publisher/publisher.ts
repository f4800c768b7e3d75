import type { Logger } from "pino";
import { IOT_CORE_MAX_MESSAGE_BYTES } from "../../config/mqtt-schema.js";
import type { AgentConfig } from "../../config/schema.js";
import type { Clock } from "../../core/clock.js";
import type { AgentEvents } from "../../core/events.js";
import type { Metrics } from "../../core/metrics.js";
import type { OutboxRow, PublishQueue } from "../outbox/publish-queue.js";
import { AckBatcher } from "./ack-batcher.js";
import { drainWait } from "./drain-wait.js";
import type { BrokerClient } from "./broker-client.js";
import { BrokerConnection, type LinkSession } from "./connection.js";
import { isPermanentPublishError, publishErrorReason } from "./errors.js";
import { RateLimiter, type RateLimits } from "./rate-limiter.js";
import type { TlsMaterial } from "./tls.js";
import type { TopicKind } from "../../core/events.js";
import {
  backfillEnvelope,
  ENVELOPE_OVERHEAD_BYTES,
  publishTopic,
  type BasicIngestRules,
} from "./topics.js";

/** Readings in one backfill envelope at most, whatever their size. */
const MAX_ENVELOPE_READINGS = 1000;
/** How often a drain reports its progress. */
const PROGRESS_INTERVAL_MS = 30_000;

export interface PublisherOptions {
  readonly gatewayId: string;
  readonly mqtt: AgentConfig["mqtt"];
  readonly envelopeBytes: number;
  /** Kinds published by AWS IoT Basic Ingest, and to which rule (`publish.basicIngest`). */
  readonly basicIngest?: BasicIngestRules;
  readonly limits: RateLimits;
  readonly tls: TlsMaterial;
  readonly queue: PublishQueue;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly events: AgentEvents;
  /** Uniform in [0, 1), for the backoff's jitter. */
  readonly random: () => number;
  /**
   * Looked at when a connection is up, before its session takes anything from the queue, so
   * buffered readings are corrected before they leave once the clock is trusted.
   */
  readonly clockCorrection?: { observe(): unknown };
  /** Sessions the connection hands each link to, and tells of its end (the config shadow). */
  readonly sessions?: readonly LinkSession[];
}

interface InflightMessage {
  readonly rows: readonly OutboxRow[];
  readonly kind: TopicKind;
  /** Monotonic time it was handed to the connection, for the acknowledgement latency. */
  readonly sentAt: number;
}

/**
 * Moves rows from the publish queue to the broker: QoS 1, alerts first, then live readings one a
 * message, then the backlog in backfill envelopes, with at most `maxInflight` messages awaiting
 * PUBACK and within the connection's rate limits. A row is accepted (deleted) only on its PUBACK,
 * dead-lettered on a permanent refusal, and released to be sent again otherwise.
 */
export class Publisher {
  private client: BrokerClient | null = null;
  private generation = -1;
  private stopping = false;
  private readonly inflight = new Map<number, InflightMessage>();
  private nextMessageKey = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private pumping = false;
  private drained: (() => void) | null = null;
  private readonly connection: BrokerConnection;
  private readonly acks: AckBatcher;
  private readonly limiter: RateLimiter;
  private progressTimer: NodeJS.Timeout | null = null;
  private publishedSinceProgress = 0;

  constructor(private readonly options: PublisherOptions) {
    this.limiter = new RateLimiter(options.limits, options.clock);
    this.acks = new AckBatcher(options.queue, options.logger);
    this.connection = new BrokerConnection(
      options,
      {
        up: (client, generation) => {
          this.sessionUp(client, generation);
        },
        down: () => {
          this.sessionDown();
        },
      },
      options.sessions,
    );
  }

  start(): void {
    this.stopping = false;
    this.connection.start();
  }

  get isConnected(): boolean {
    return this.connection.isConnected;
  }

  /** Rows in messages awaiting PUBACK. */
  get inflightRows(): number {
    let n = 0;
    for (const message of this.inflight.values()) n += message.rows.length;
    return n;
  }

  /**
   * One message outside the outbox, at QoS 0 (a shadow report about now: after an outage it is
   * stale, so it is never buffered). False when there is no connection to send it on.
   */
  sendSideMessage(topic: string, payload: string): boolean {
    const client = this.client;
    if (!client || this.stopping) return false;
    client.publish(topic, payload, 0, (error) => {
      if (error) this.options.logger.debug({ err: error, topic }, "side message not sent");
    });
    return true;
  }

  /** New rows were captured: send them if the link is up. */
  kick(): void {
    this.pump();
  }

  /**
   * Stops publishing: waits up to `drainMs` for the PUBACKs of messages in flight, records them,
   * and closes the connection. Unacknowledged rows stay in the queue for the next start.
   */
  async stop(drainMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.progressTimer) clearInterval(this.progressTimer);
    if (this.connection.isConnected && this.inflight.size > 0) {
      const wait = drainWait(drainMs);
      this.drained = wait.done;
      await wait.ended;
    }
    this.drained = null;
    this.acks.flush();
    this.client = null;
    this.inflight.clear();
    await this.connection.stop();
  }

  private sessionUp(client: BrokerClient, generation: number): void {
    const { queue, logger, mqtt: config } = this.options;
    this.client = client;
    this.generation = generation;
    this.options.clockCorrection?.observe();
    queue.beginSession();
    const pending = queue.pending();
    logger.info(
      { url: config.url, backlog: pending.telemetry, alerts: pending.alerts },
      "connected to the broker",
    );
    this.publishedSinceProgress = 0;
    this.progressTimer = setInterval(() => {
      this.reportProgress();
    }, PROGRESS_INTERVAL_MS);
    this.progressTimer.unref();
    this.pump();
  }

  private sessionDown(): void {
    if (this.progressTimer) clearInterval(this.progressTimer);
    this.acks.flush();
    // Whatever was in flight on this connection is pending again at the next session.
    this.inflight.clear();
    this.client = null;
  }

  private pump(): void {
    if (!this.client || this.pumping || this.stopping) return;
    const { queue, mqtt: config, envelopeBytes } = this.options;
    this.pumping = true;
    try {
      // Acks and closes arrive as events, never during this synchronous loop.
      while (this.inflight.size < config.maxInflight) {
        const room = config.maxInflight - this.inflight.size;
        const alerts = queue.takeAlerts(room);
        if (alerts.length > 0) {
          if (!this.sendEach("alert", alerts)) break;
          continue;
        }
        const live = queue.takeLive(room);
        if (live.length > 0) {
          if (!this.sendEach("telemetry", live)) break;
          continue;
        }
        // One comma between readings: count a byte a row on top of the payloads.
        const batch = queue.takeBackfill(
          envelopeBytes - ENVELOPE_OVERHEAD_BYTES,
          MAX_ENVELOPE_READINGS,
          1,
        );
        const first = batch[0];
        if (!first) break;
        const envelope = backfillEnvelope(batch.map((r) => r.payload));
        if (!this.admit(envelope, batch)) break;
        this.send("backfill", first.containerId, envelope, batch);
      }
    } catch (error) {
      this.options.logger.error({ err: error }, "could not read the outbox; retrying in a second");
      this.retryLater(1000);
    } finally {
      this.pumping = false;
    }
  }

  /** Sends rows one a message while the rate limits allow; false when the limiter said wait. */
  private sendEach(kind: "alert" | "telemetry", rows: readonly OutboxRow[]): boolean {
    for (const [i, row] of rows.entries()) {
      if (!this.admit(row.payload, rows.slice(i))) return false;
      this.send(kind, row.containerId, row.payload, [row]);
    }
    return true;
  }

  /**
   * Asks the rate limiter for one message. When it says wait, the rows not sent go back to the
   * queue (taken again, in order, when the pump resumes) and the pump sleeps that long.
   */
  private admit(payload: string, unsent: readonly OutboxRow[]): boolean {
    const wait = this.limiter.take(Buffer.byteLength(payload));
    if (wait === 0) return true;
    this.options.queue.release(unsent);
    this.options.metrics.increment("rate_limited");
    this.retryLater(wait);
    return false;
  }

  private send(
    kind: TopicKind,
    containerId: string,
    payload: string,
    rows: readonly OutboxRow[],
  ): void {
    const client = this.client;
    if (!client) return;
    const { queue, gatewayId, metrics, logger } = this.options;
    const bytes = Buffer.byteLength(payload);
    if (bytes > IOT_CORE_MAX_MESSAGE_BYTES) {
      const reason = `payload of ${bytes} bytes exceeds the broker limit of ${IOT_CORE_MAX_MESSAGE_BYTES}`;
      queue.reject(
        rows.map((r) => r.id),
        reason,
      );
      this.deadLettered(rows.length, reason);
      logger.error({ container: containerId, kind, bytes }, reason);
      return;
    }
    const key = this.nextMessageKey++;
    const generation = this.generation;
    this.inflight.set(key, { rows, kind, sentAt: this.options.clock.monotonic() });
    const topic = publishTopic(gatewayId, containerId, kind, this.options.basicIngest);
    client.publish(topic, payload, 1, (error) => {
      this.onPublished(generation, key, error);
    });
    metrics.increment("bytes_sent", bytes);
  }

  private onPublished(generation: number, key: number, error: Error | undefined): void {
    // That connection is gone: its rows are pending again.
    if (generation !== this.connection.generation || generation !== this.generation) return;
    const message = this.inflight.get(key);
    if (!message) return;
    this.inflight.delete(key);
    const { queue, metrics, logger } = this.options;
    const ids = message.rows.map((r) => r.id);
    if (!error) {
      this.acks.add(ids);
      metrics.observe(
        "publish_ack_seconds",
        (this.options.clock.monotonic() - message.sentAt) / 1000,
      );
      metrics.increment("published", message.rows.length, { kind: message.kind });
      this.publishedSinceProgress += message.rows.length;
      this.options.events.emit("published", message.rows.length, message.kind);
    } else if (isPermanentPublishError(error)) {
      const reason = publishErrorReason(error);
      queue.reject(ids, reason);
      this.deadLettered(ids.length, reason);
      logger.error(
        { kind: message.kind, container: message.rows[0]?.containerId, rows: ids.length },
        `broker refused a publish for good, moved to the dead-letter table: ${reason}`,
      );
    } else {
      queue.release(message.rows);
      metrics.increment("publish_errors");
      logger.warn({ err: error, kind: message.kind }, "publish failed; will retry");
      this.retryLater(1000);
      return;
    }
    if (this.inflight.size === 0) this.drained?.();
    this.pump();
  }

  /** While a backlog drains: a log line with what is left, the rate and the time to go. */
  private reportProgress(): void {
    const { telemetry, alerts } = this.options.queue.pending();
    const rate = this.publishedSinceProgress / (PROGRESS_INTERVAL_MS / 1000);
    this.publishedSinceProgress = 0;
    this.options.metrics.set("drain_rate_per_second", rate);
    if (telemetry + alerts < 100 || rate === 0) return; // live running, nothing to drain
    this.options.logger.info(
      {
        backlog: telemetry,
        alerts,
        ratePerSecond: Math.round(rate),
        etaSeconds: Math.round(telemetry / rate),
      },
      "draining the backlog",
    );
  }

  private deadLettered(rows: number, reason: string): void {
    this.options.metrics.increment("dead_lettered", rows);
    this.options.events.emit("deadLettered", rows, reason);
  }

  private retryLater(ms: number): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, ms);
  }
}
