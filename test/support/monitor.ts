import { readFileSync } from "node:fs";
import mqtt, { type MqttClient } from "mqtt";
import { waitFor } from "./wait-for.js";
import type { ReeferReading } from "../../core/record.js";
import { BACKFILL_SCHEMA } from "../../agent/publisher/topics.js";
import type { Identity } from "./pki.js";

/**
 * A subscriber that records every reading delivered under dt/reefer/#, from live messages and
 * backfill envelopes alike, and counts duplicates by (container_id, seq).
 */
export class Monitor {
  readonly readings: { topic: string; reading: ReeferReading }[] = [];
  readonly topics: string[] = [];
  /** Alert records (reefer.alert.v1) as delivered, duplicates included. */
  readonly alerts: { topic: string; alert: { alert_id: string } & Record<string, unknown> }[] = [];
  /** Audit messages (checkpoints, gap records) as delivered on dt/reefer/<gateway>/audit. */
  readonly audit: { topic: string; message: Record<string, unknown> }[] = [];
  private readonly seen = new Map<string, Set<number>>();
  duplicates = 0;
  /**
   * Times the monitor's own connection dropped. A loss seen while this is 0 cannot be the
   * observer's: the broker delivers every QoS 1 message to a connected subscriber.
   */
  disconnects = 0;

  private constructor(private readonly client: MqttClient) {
    client.on("close", () => {
      this.disconnects++;
    });
    client.on("message", (topic, payload) => {
      this.topics.push(topic);
      const body = JSON.parse(payload.toString()) as unknown;
      const readings = topic.endsWith("/backfill")
        ? (body as { schema: string; readings: ReeferReading[] }).readings
        : topic.endsWith("/telemetry")
          ? [body as ReeferReading]
          : [];
      if (
        topic.endsWith("/backfill") &&
        (body as { schema?: unknown }).schema !== BACKFILL_SCHEMA
      ) {
        throw new Error(`backfill envelope without schema on ${topic}`);
      }
      if (topic.endsWith("/audit"))
        this.audit.push({ topic, message: body as Record<string, unknown> });
      if (topic.endsWith("/alert"))
        this.alerts.push({ topic, alert: body as { alert_id: string } & Record<string, unknown> });
      for (const reading of readings) {
        this.readings.push({ topic, reading });
        const seqs = this.seen.get(reading.container_id) ?? new Set<number>();
        if (seqs.has(reading.seq)) this.duplicates++;
        seqs.add(reading.seq);
        this.seen.set(reading.container_id, seqs);
      }
    });
  }

  static async connect(url: string, ca: string, identity: Identity): Promise<Monitor> {
    const client = await mqtt.connectAsync(url, {
      ca: readFileSync(ca),
      cert: readFileSync(identity.cert),
      key: readFileSync(identity.key),
      clientId: `monitor-${process.pid}-${Math.random().toString(16).slice(2)}`,
      reconnectPeriod: 500,
      clean: false,
      protocolVersion: 4,
    });
    const monitor = new Monitor(client);
    // And what gateways send by AWS IoT Basic Ingest (`#` never matches a topic beginning `$`).
    await client.subscribeAsync(["dt/reefer/#", "$aws/rules/+/dt/reefer/#"], { qos: 1 });
    return monitor;
  }

  /** Distinct seqs received of a container. */
  seqs(containerId: string): Set<number> {
    return this.seen.get(containerId) ?? new Set();
  }

  /** Resolves once `predicate` holds (test/support/wait-for.ts); fails naming `what`. */
  async waitFor(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(what, predicate, timeoutMs);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
