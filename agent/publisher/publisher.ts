import { isIP } from "node:net";
import type { IClientOptions, MqttClient } from "mqtt";
import type { Logger } from "pino";
import { IOT_CORE_MAX_MESSAGE_BYTES, type AgentConfig } from "../../config/schema.js";
import type { Clock } from "../clock.js";
import type { AgentEvents } from "../events.js";
import type { Metrics } from "../metrics.js";
import type { Outbox, OutboxRow } from "../outbox/outbox.js";
import { describeConnectionError, isPermanentPublishError, publishErrorReason } from "./errors.js";
import { connect } from "./mqtt-connect.js";
import { RateLimiter, type RateLimits } from "./rate-limiter.js";
import { ReconnectPolicy } from "./reconnect-policy.js";
import type { TlsMaterial } from "./tls.js";
import { backfillEnvelope, ENVELOPE_OVERHEAD_BYTES, topicFor, type TopicKind } from "./topics.js";

/** Readings in one backfill envelope at most, whatever their size. */
const MAX_ENVELOPE_READINGS = 1000;
/** Acknowledged rows are deleted in batches: at this many, or after ACK_FLUSH_MS. */
const ACK_FLUSH_ROWS = 500;
const ACK_FLUSH_MS = 20;
/** How often a drain reports its progress. */
const PROGRESS_INTERVAL_MS = 30_000;

export interface PublisherOptions {
  readonly gatewayId: string;
  readonly mqtt: AgentConfig["mqtt"];
  readonly envelopeBytes: number;
  readonly limits: RateLimits;
  readonly tls: TlsMaterial;
  readonly outbox: Outbox;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly events: AgentEvents;
  /** Uniform in [0, 1), for the backoff's jitter. */
  readonly random: () => number;
  /** Runs when a connection is up, before its session takes anything from the outbox. */
  readonly beforeSession?: () => void;
}

interface InflightMessage {
  readonly rows: readonly OutboxRow[];
  readonly kind: TopicKind;
}

/**
 * Moves rows from the outbox to the broker: QoS 1, alerts first, then live readings one a
 * message, then the backlog in backfill envelopes, with at most `maxInflight` messages awaiting
 * PUBACK. A row is accepted (deleted) only on its PUBACK.
 *
 * The publisher owns reconnection rather than MQTT.js (`reconnectPeriod: 0`): every connection
 * is a fresh client, so nothing is queued inside MQTT.js where the outbox cannot see it, and the
 * retry delay is `ReconnectPolicy`'s.
 */
export class Publisher {
  private client: MqttClient | null = null;
  /** Bumped on every connection; callbacks of an older client are ignored. */
  private generation = 0;
  private connected = false;
  private stopping = false;
  private readonly inflight = new Map<number, InflightMessage>();
  private nextMessageKey = 0;
  private acked: number[] = [];
  private ackFlush: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** The last problem logged, so that each distinct one is logged once per outage. */
  private lastProblem = "";
  private lastProblemKind: "network" | "credentials" | "protocol" = "network";
  private pumping = false;
  private drained: (() => void) | null = null;
  private readonly reconnect: ReconnectPolicy;
  private readonly limiter: RateLimiter;
  private progressTimer: NodeJS.Timeout | null = null;
  private publishedSinceProgress = 0;

  constructor(private readonly options: PublisherOptions) {
    this.limiter = new RateLimiter(options.limits, options.clock);
    this.reconnect = new ReconnectPolicy({
      ...options.mqtt.reconnect,
      clock: options.clock,
      random: options.random,
    });
  }

  start(): void {
    this.stopping = false;
    this.connect();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Rows in messages awaiting PUBACK. */
  get inflightRows(): number {
    let n = 0;
    for (const message of this.inflight.values()) n += message.rows.length;
    return n;
  }

  /** New rows were captured: send them if the link is up. */
  kick(): void {
    this.pump();
  }

  /**
   * Stops publishing: waits up to `drainMs` for the PUBACKs of messages in flight, records them,
   * and closes the connection. Unacknowledged rows stay in the outbox for the next start.
   */
  async stop(drainMs = 5000): Promise<void> {
    this.stopping = true;
    for (const timer of [this.reconnectTimer, this.retryTimer]) {
      if (timer) clearTimeout(timer);
    }
    if (this.progressTimer) clearInterval(this.progressTimer);
    if (this.connected && this.inflight.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.drained = null;
    this.flushAcks();
    const client = this.client;
    this.client = null;
    this.generation++;
    this.connected = false;
    this.inflight.clear();
    if (client) await client.endAsync(true).catch(() => undefined);
    this.options.events.emit("connection", "stopped");
  }

  private connect(): void {
    if (this.stopping) return;
    const { mqtt: config, tls, gatewayId, logger } = this.options;
    this.reconnect.connecting();
    const generation = ++this.generation;
    const url = new URL(config.url);
    const clientOptions: IClientOptions = {
      clientId: gatewayId,
      protocolVersion: config.protocolVersion,
      clean: true,
      keepalive: config.keepaliveSeconds,
      connectTimeout: config.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      // mqtt-packet otherwise pre-builds 65,536 two-byte Buffers on the first publish: 6 MiB of
      // heap (measured in a heap snapshot of the agent) to save one tiny allocation per packet,
      // which at IoT Core's 100 publishes/s does not matter (mqtt-packet issue #139).
      writeCache: false,
      rejectUnauthorized: true,
      ...(tls.ca && { ca: tls.ca }),
      ...(tls.cert && { cert: tls.cert }),
      ...(tls.key && { key: tls.key }),
      ...(config.alpn && { ALPNProtocols: ["x-amzn-mqtt-ca"] }),
      // SNI names a host; RFC 6066 forbids an IP address there.
      ...(url.protocol === "mqtts:" && isIP(url.hostname) === 0 && { servername: url.hostname }),
    };
    this.options.events.emit("connection", "connecting");
    this.options.metrics.increment("connect_attempts");
    logger.debug(
      { url: config.url, clientId: gatewayId, attempt: this.reconnect.failures },
      "connecting",
    );
    const client = connect(config.url, clientOptions);
    this.client = client;
    client.on("connect", () => {
      this.onConnect(generation);
    });
    client.on("error", (error) => {
      this.onError(generation, error);
    });
    client.on("close", () => {
      this.onClose(generation);
    });
  }

  private onConnect(generation: number): void {
    if (generation !== this.generation) return;
    const { outbox, logger, metrics, mqtt: config } = this.options;
    this.connected = true;
    this.reconnect.connected();
    this.lastProblem = "";
    this.lastProblemKind = "network";
    metrics.increment("connects");
    this.options.beforeSession?.();
    outbox.beginSession();
    const stats = outbox.stats();
    logger.info(
      { url: config.url, backlog: stats.telemetry, alerts: stats.alerts },
      "connected to the broker",
    );
    this.options.events.emit("connection", "connected");
    this.publishedSinceProgress = 0;
    this.progressTimer = setInterval(() => {
      this.reportProgress();
    }, PROGRESS_INTERVAL_MS);
    this.progressTimer.unref();
    this.pump();
  }

  private onError(generation: number, error: Error): void {
    if (generation !== this.generation) return;
    const problem = describeConnectionError(error);
    this.options.metrics.increment("connection_errors", 1, { kind: problem.kind });
    // Say each distinct problem once per outage, not once per retry.
    if (problem.message !== this.lastProblem) {
      this.options.logger.error(
        { err: error, kind: problem.kind },
        `broker connection failed: ${problem.message}`,
      );
      this.lastProblem = problem.message;
    }
    this.lastProblemKind = problem.kind;
  }

  private onClose(generation: number): void {
    if (generation !== this.generation) return;
    const wasConnected = this.connected;
    this.connected = false;
    if (this.progressTimer) clearInterval(this.progressTimer);
    this.flushAcks();
    // Whatever was in flight on this connection is pending again at the next session.
    this.inflight.clear();
    const client = this.client;
    this.client = null;
    this.generation++;
    client?.end(true);
    if (wasConnected) {
      this.options.metrics.increment("disconnects");
      this.options.logger.warn("disconnected from the broker; readings stay in the outbox");
    }
    this.options.events.emit("connection", "disconnected", this.lastProblem || undefined);
    if (!this.stopping) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = this.reconnect.disconnected(this.lastProblemKind);
    this.lastProblemKind = "network";
    this.options.metrics.set("reconnect_delay_ms", delay);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private pump(): void {
    if (!this.connected || this.pumping || this.stopping) return;
    const { outbox, mqtt: config, envelopeBytes } = this.options;
    this.pumping = true;
    try {
      // Acks and closes arrive as events, never during this synchronous loop.
      while (this.inflight.size < config.maxInflight) {
        const room = config.maxInflight - this.inflight.size;
        const alerts = outbox.takeAlerts(room);
        if (alerts.length > 0) {
          if (!this.sendEach("alert", alerts)) break;
          continue;
        }
        const live = outbox.takeLive(room);
        if (live.length > 0) {
          if (!this.sendEach("telemetry", live)) break;
          continue;
        }
        // One comma between readings: count a byte a row on top of the payloads.
        const batch = outbox.takeBackfill(
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
   * outbox (taken again, in order, when the pump resumes) and the pump sleeps that long.
   */
  private admit(payload: string, unsent: readonly OutboxRow[]): boolean {
    const wait = this.limiter.take(Buffer.byteLength(payload));
    if (wait === 0) return true;
    this.options.outbox.release(unsent);
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
    const { outbox, gatewayId, metrics, logger } = this.options;
    const bytes = Buffer.byteLength(payload);
    if (bytes > IOT_CORE_MAX_MESSAGE_BYTES) {
      const reason = `payload of ${bytes} bytes exceeds the broker limit of ${IOT_CORE_MAX_MESSAGE_BYTES}`;
      outbox.reject(
        rows.map((r) => r.id),
        reason,
      );
      this.deadLettered(rows.length, reason);
      logger.error({ container: containerId, kind, bytes }, reason);
      return;
    }
    const key = this.nextMessageKey++;
    const generation = this.generation;
    this.inflight.set(key, { rows, kind });
    client.publish(topicFor(gatewayId, containerId, kind), payload, { qos: 1 }, (error) => {
      this.onPublished(generation, key, error);
    });
    metrics.increment("bytes_sent", bytes);
  }

  private onPublished(generation: number, key: number, error: Error | undefined): void {
    if (generation !== this.generation) return; // that connection is gone; rows are pending again
    const message = this.inflight.get(key);
    if (!message) return;
    this.inflight.delete(key);
    const { outbox, metrics, logger } = this.options;
    const ids = message.rows.map((r) => r.id);
    if (!error) {
      this.acked.push(...ids);
      this.scheduleAckFlush();
      metrics.increment("published", message.rows.length, { kind: message.kind });
      this.publishedSinceProgress += message.rows.length;
      this.options.events.emit("published", message.rows.length, message.kind);
    } else if (isPermanentPublishError(error)) {
      const reason = publishErrorReason(error);
      outbox.reject(ids, reason);
      this.deadLettered(ids.length, reason);
      logger.error(
        { kind: message.kind, container: message.rows[0]?.containerId, rows: ids.length },
        `broker refused a publish for good, moved to the dead-letter table: ${reason}`,
      );
    } else {
      outbox.release(message.rows);
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
    const { telemetry, alerts } = this.options.outbox.stats();
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

  /**
   * Acks arrive one by one; their rows are deleted in one transaction per batch. Until then they
   * stay in flight in the outbox (never taken twice); a crash before the flush re-sends them.
   */
  private scheduleAckFlush(): void {
    if (this.acked.length >= ACK_FLUSH_ROWS) {
      this.flushAcks();
      return;
    }
    this.ackFlush ??= setTimeout(() => {
      this.flushAcks();
    }, ACK_FLUSH_MS);
  }

  private flushAcks(): void {
    if (this.ackFlush) clearTimeout(this.ackFlush);
    this.ackFlush = null;
    if (this.acked.length === 0) return;
    const ids = this.acked;
    this.acked = [];
    try {
      this.options.outbox.accept(ids);
    } catch (error) {
      // The rows stay in the outbox and will be sent again: a duplicate, never a loss.
      this.options.logger.error(
        { err: error, rows: ids.length },
        "could not record acknowledgements",
      );
    }
  }

  private retryLater(ms: number): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, ms);
  }
}
