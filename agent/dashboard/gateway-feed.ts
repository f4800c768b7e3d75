import type { GatewayStatus } from "../../core/gateway-status.js";
import type { ConnectionState } from "../../core/events.js";
import type { ReeferReading } from "../../core/record.js";
import type { AlertRecord } from "../../core/alerts.js";
import { deviceErrors } from "../device-errors.js";
import { HistoryRing, type HistoryPoint } from "./history-ring.js";
import { alertKey, alertTime, describeAlert, OpenAlerts } from "./open-alerts.js";
import type {
  AlertWire,
  GatewaySnapshotWire,
  GatewayStatusWire,
  ReadingWire,
} from "../../dashboard/wire.js";

/** One event of a gateway's live stream, as Server-Sent Events carry it. */
export type FeedEvent =
  | { readonly event: "snapshot"; readonly data: GatewaySnapshotWire }
  | { readonly event: "readings"; readonly data: readonly ReadingWire[] }
  | { readonly event: "alerts"; readonly data: readonly AlertWire[] }
  | { readonly event: "status"; readonly data: GatewayStatusWire };

export type FeedListener = (event: FeedEvent) => void;

export interface GatewayFeedOptions {
  /** How far back the chart goes. */
  readonly historyMs?: number;
  /** How often subscribers get the status (outbox, connection, clock, devices). */
  readonly statusIntervalMs?: number;
  /** Wall clock, ms (the agent's readings carry their own times). */
  readonly now?: () => number;
}

const HOUR = 3_600_000;
const RECENT_ALERTS = 50;

/**
 * One gateway's live data for the dashboard, kept from the agent's events: the last hour of
 * each container in a fixed ring, the alerts still open, the latest alerts, and a status each
 * second while someone watches. Subscribers get a snapshot first, then each change as it
 * happens; a slow subscriber is the transport's business (see SseStream).
 */
export class GatewayFeed {
  private readonly rings = new Map<string, HistoryRing>();
  private readonly open = new OpenAlerts();
  private readonly recent: AlertWire[] = [];
  private readonly listeners = new Set<FeedListener>();
  private readonly historyMs: number;
  private readonly statusIntervalMs: number;
  private readonly now: () => number;
  private connection: ConnectionState = "connecting";
  private clock: "synced" | "unsynced" | "unknown" = "unknown";
  private acknowledged = 0;
  /** Acknowledged counts of the last statuses, for the drain rate. */
  private readonly drainSamples: { at: number; acknowledged: number }[] = [];
  private statusTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly agent: GatewayStatus,
    options: GatewayFeedOptions = {},
  ) {
    this.historyMs = options.historyMs ?? HOUR;
    this.statusIntervalMs = options.statusIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
    // A ring long enough for the history at the fastest container's interval, within bounds.
    for (const { id, intervalMs } of agent.containers()) {
      this.rings.set(
        id,
        new HistoryRing(Math.min(7200, Math.max(60, Math.ceil(this.historyMs / intervalMs) + 1))),
      );
    }
    agent.events.on("captured", this.onCaptured);
    agent.events.on("alert", this.onAlert);
    agent.events.on("published", this.onPublished);
    agent.events.on("connection", this.onConnection);
  }

  /** Delivers a snapshot at once, then every change; returns the unsubscribe. */
  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    listener({ event: "snapshot", data: this.snapshot() });
    if (!this.statusTimer) {
      this.statusTimer = setInterval(() => {
        this.emit({ event: "status", data: this.status() });
      }, this.statusIntervalMs);
      this.statusTimer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.statusTimer) {
        clearInterval(this.statusTimer);
        this.statusTimer = null;
      }
    };
  }

  snapshot(): GatewaySnapshotWire {
    const since = this.now() - this.historyMs;
    const containers = this.agent.containers();
    return {
      gateway: this.agent.gatewayId,
      containers,
      history: Object.fromEntries(
        containers.map((c) => [c.id, this.rings.get(c.id)?.columnsSince(since) ?? emptyColumns()]),
      ),
      open: Object.fromEntries(
        containers.map((c) => [c.id, this.open.of(c.id).map((a) => alertWire(a))]),
      ),
      recent: [...this.recent],
      status: this.status(),
    };
  }

  status(): GatewayStatusWire {
    const now = this.now();
    const status = this.agent.status();
    const outbox = status.outbox;
    this.drainSamples.push({ at: now, acknowledged: this.acknowledged });
    while (this.drainSamples.length > 11) this.drainSamples.shift();
    const first = this.drainSamples[0];
    const drainPerSecond =
      first && now > first.at
        ? ((this.acknowledged - first.acknowledged) * 1000) / (now - first.at)
        : 0;
    const depth = outbox.telemetry + outbox.alerts;
    const { oldestCapturedAt: oldest, uptimeMs } = this.agent.glance();
    const { devices, readErrors } = deviceErrors(this.agent.metrics);
    return {
      at: now,
      // A feed made after the agent connected has seen no connection event yet.
      connection: status.connected
        ? "connected"
        : this.connection === "connected"
          ? "disconnected"
          : this.connection,
      broker: this.agent.brokerAddress,
      outbox: {
        depth,
        bytes: outbox.bytes,
        oldestAgeMs: oldest === null ? null : Math.max(0, now - oldest),
        drainPerSecond: Math.round(drainPerSecond * 10) / 10,
        etaSeconds:
          this.connection === "connected" && depth > 0 && drainPerSecond > 0
            ? Math.ceil(depth / drainPerSecond)
            : null,
        evicted: outbox.evictedTelemetry + outbox.evictedAlerts,
        deadLettered: outbox.deadLettered,
      },
      clock: this.clock,
      devices,
      readErrors,
      uptimeSeconds: Math.round(uptimeMs / 1000),
    };
  }

  /** Stops listening to the agent and ends every subscription. */
  close(): void {
    this.agent.events.off("captured", this.onCaptured);
    this.agent.events.off("alert", this.onAlert);
    this.agent.events.off("published", this.onPublished);
    this.agent.events.off("connection", this.onConnection);
    this.listeners.clear();
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = null;
  }

  private emit(event: FeedEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private readonly onCaptured = (readings: readonly ReeferReading[]): void => {
    const wire: ReadingWire[] = [];
    for (const reading of readings) {
      const point = historyPoint(reading);
      this.rings.get(reading.container_id)?.push(point);
      this.clock = reading.clock;
      wire.push({
        container: reading.container_id,
        seq: reading.seq,
        point: [...point],
        clock: reading.clock,
      });
    }
    if (this.listeners.size > 0 && wire.length > 0) this.emit({ event: "readings", data: wire });
  };

  private readonly onAlert = (alerts: readonly AlertRecord[]): void => {
    const wire = alerts.map((alert) => {
      this.open.apply(alert);
      return alertWire(alert);
    });
    this.recent.unshift(...[...wire].reverse());
    this.recent.length = Math.min(this.recent.length, RECENT_ALERTS);
    if (this.listeners.size > 0) this.emit({ event: "alerts", data: wire });
  };

  private readonly onPublished = (rows: number): void => {
    this.acknowledged += rows;
  };

  private readonly onConnection = (state: ConnectionState): void => {
    this.connection = state;
  };
}

/** A reading as the chart's columns (HISTORY_COLUMNS). */
export function historyPoint(r: ReeferReading): HistoryPoint {
  return [
    Date.parse(r.measurement_time),
    r.temperature,
    r.target_temperature,
    r.oxygen_level,
    r.carbon_dioxide_level,
    r.kilowatts,
    r.time_door_open === null ? null : r.time_door_open > 0 ? 1 : 0,
    r.defrost_cycle === null ? null : r.defrost_cycle ? 1 : 0,
  ];
}

export function alertWire(alert: AlertRecord): AlertWire {
  return {
    id: alert.alert_id,
    key: alertKey(alert),
    container: alert.container_id,
    type: alert.alert_type,
    severity: alert.severity,
    state: alert.state,
    at: alertTime(alert),
    text: describeAlert(alert),
  };
}

function emptyColumns(): ReturnType<HistoryRing["columnsSince"]> {
  return new HistoryRing(1).columnsSince(0);
}
