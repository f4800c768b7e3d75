import type { Logger } from "pino";
import type { AgentConfig } from "../../config/schema.js";
import type { Clock } from "../../core/clock.js";
import type { AgentEvents } from "../../core/events.js";
import type { Metrics } from "../../core/metrics.js";
import { describeConnectionError, type ConnectionProblem } from "./errors.js";
import { mqttClientOptions } from "./client-options.js";
import type { BrokerClient, SessionLink } from "./broker-client.js";
import { openCrtClient } from "./crt-client.js";
import { openMqttJsClient } from "./mqttjs-client.js";
import { ReconnectPolicy } from "./reconnect-policy.js";
import type { TlsMaterial } from "./tls.js";

export interface BrokerConnectionOptions {
  readonly gatewayId: string;
  readonly mqtt: AgentConfig["mqtt"];
  readonly tls: TlsMaterial;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly events: AgentEvents;
  /** Uniform in [0, 1), for the backoff's jitter. */
  readonly random: () => number;
}

/** What the publisher does when a connection comes up or goes. */
export interface ConnectionHandlers {
  /** A new connection (a fresh client) is up; its session starts now. */
  up(client: BrokerClient, generation: number): void;
  /** The connection is gone; whatever was in flight on it is pending again. */
  down(): void;
}

/** A session riding on each connection (a shadow): it may send and receive, never end the link. */
export interface LinkSession {
  up(link: SessionLink): void;
  down(): void;
}

/**
 * The broker connection and its reconnection. MQTT.js does not reconnect (`reconnectPeriod: 0`):
 * every connection is a fresh client, so nothing is queued inside MQTT.js where the outbox cannot
 * see it, and the retry delay is `ReconnectPolicy`'s (full jitter, at most one CONNECT a second,
 * slow retries when the broker refused the certificate). Each distinct problem is logged once
 * per outage.
 */
export class BrokerConnection {
  private client: BrokerClient | null = null;
  /** Bumped on every connection; callbacks of an older client are ignored. */
  private generationNow = 0;
  private connected = false;
  private stopping = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private lastProblem = "";
  private lastProblemKind: ConnectionProblem["kind"] = "network";
  private readonly reconnect: ReconnectPolicy;

  constructor(
    private readonly options: BrokerConnectionOptions,
    private readonly handlers: ConnectionHandlers,
    /** Told of each connection after the publisher, in this order. */
    private readonly sessions: readonly LinkSession[] = [],
  ) {
    this.reconnect = new ReconnectPolicy({
      ...options.mqtt.reconnect,
      clock: options.clock,
      random: options.random,
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** The current connection's number: a callback carrying an older one is stale. */
  get generation(): number {
    return this.generationNow;
  }

  start(): void {
    this.stopping = false;
    this.connect();
  }

  /** Ends the connection; no reconnect follows. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    this.generationNow++;
    this.connected = false;
    if (client) await client.end();
    this.options.events.emit("connection", "stopped");
  }

  private connect(): void {
    if (this.stopping) return;
    const { mqtt: config, tls, gatewayId, logger, metrics, events } = this.options;
    this.reconnect.connecting();
    const generation = ++this.generationNow;
    const clientOptions = mqttClientOptions(gatewayId, config, tls);
    events.emit("connection", "connecting");
    metrics.increment("connect_attempts");
    logger.debug(
      { url: config.url, clientId: gatewayId, attempt: this.reconnect.failures },
      "connecting",
    );
    const open = config.client === "aws-crt" ? openCrtClient : openMqttJsClient;
    const client: BrokerClient = open(config.url, clientOptions, {
      connected: () => {
        this.onConnect(generation, client);
      },
      failed: (error) => {
        this.onError(generation, error);
      },
      closed: () => {
        this.onClose(generation);
      },
    });
    this.client = client;
  }

  private onConnect(generation: number, client: BrokerClient): void {
    if (generation !== this.generationNow) return;
    this.connected = true;
    this.reconnect.connected();
    this.lastProblem = "";
    this.lastProblemKind = "network";
    this.options.metrics.increment("connects");
    this.handlers.up(client, generation);
    for (const session of this.sessions) session.up(client);
    this.options.events.emit("connection", "connected");
  }

  private onError(generation: number, error: Error): void {
    if (generation !== this.generationNow) return;
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
    if (generation !== this.generationNow) return;
    const wasConnected = this.connected;
    this.connected = false;
    const client = this.client;
    this.client = null;
    this.generationNow++;
    void client?.end();
    for (const session of this.sessions) session.down();
    this.handlers.down();
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
}
