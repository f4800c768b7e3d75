import { readFileSync } from "node:fs";
import mqtt, { type MqttClient } from "mqtt";
import { BACKFILL_SCHEMA } from "../agent/publisher/topics.js";

/**
 * The fleet's observer: one subscriber to every gateway's telemetry and backfill, which records
 * each (container, seq) it receives, so the report can say what was lost and what came twice.
 * Its session is persistent (clean: false, QoS 1): the broker queues for it while it reconnects,
 * so an observer that missed something would be the broker's loss, not the fleet's. It starts
 * with a clean session, so nothing of an earlier run is counted in this one.
 */
export class FleetObserver {
  private readonly seqs = new Map<string, SeqSet>();
  private readonly duplicatesByGateway = new Map<string, number>();
  received = 0;
  duplicates = 0;
  malformed = 0;
  disconnects = 0;

  private constructor(private readonly client: MqttClient) {
    client.on("close", () => {
      this.disconnects++;
    });
    client.on("message", (topic, payload) => this.record(topic, payload));
  }

  static async connect(
    url: string,
    files: { ca?: string | undefined; cert: string; key: string },
    clientId: string,
  ): Promise<FleetObserver> {
    const options = {
      ...(files.ca !== undefined && { ca: readFileSync(files.ca) }),
      cert: readFileSync(files.cert),
      key: readFileSync(files.key),
      clientId,
      protocolVersion: 4 as const,
      reconnectPeriod: 1000,
    };
    // An earlier run's session and whatever was queued for it: gone.
    await (
      await mqtt.connectAsync(url, { ...options, clean: true, reconnectPeriod: 0 })
    ).endAsync();
    const client = await mqtt.connectAsync(url, { ...options, clean: false });
    const observer = new FleetObserver(client);
    await client.subscribeAsync(["dt/reefer/+/+/telemetry", "dt/reefer/+/+/backfill"], { qos: 1 });
    return observer;
  }

  /** Whether `seq` of `container` arrived. */
  has(container: string, seq: number): boolean {
    return this.seqs.get(container)?.has(seq) ?? false;
  }

  duplicatesOf(gateway: string): number {
    return this.duplicatesByGateway.get(gateway) ?? 0;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }

  private record(topic: string, payload: Buffer): void {
    const gateway = topic.split("/")[2] ?? "";
    let readings: { container_id?: unknown; seq?: unknown }[];
    try {
      const body = JSON.parse(payload.toString()) as Record<string, unknown>;
      if (topic.endsWith("/backfill")) {
        if (body.schema !== BACKFILL_SCHEMA || !Array.isArray(body.readings)) throw new Error();
        readings = body.readings as typeof readings;
      } else readings = [body];
    } catch {
      this.malformed++;
      return;
    }
    for (const reading of readings) {
      if (typeof reading.container_id !== "string" || typeof reading.seq !== "number") {
        this.malformed++;
        continue;
      }
      let set = this.seqs.get(reading.container_id);
      if (!set) {
        set = new SeqSet();
        this.seqs.set(reading.container_id, set);
      }
      if (set.add(reading.seq)) this.received++;
      else {
        this.duplicates++;
        this.duplicatesByGateway.set(gateway, (this.duplicatesByGateway.get(gateway) ?? 0) + 1);
      }
    }
  }
}

/**
 * A set of seqs as a bitmap in 1,024-seq pages: 10,000 containers a day at one reading a second
 * take about 100 MB as JavaScript Sets and 11 MB here.
 */
export class SeqSet {
  private readonly pages = new Map<number, Uint32Array>();

  /** Adds `seq`; false if it was there already. */
  add(seq: number): boolean {
    const pageIndex = Math.floor(seq / 1024);
    let page = this.pages.get(pageIndex);
    if (!page) {
      page = new Uint32Array(32);
      this.pages.set(pageIndex, page);
    }
    const bit = seq % 1024;
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    const current = page[word] ?? 0;
    if ((current & mask) !== 0) return false;
    page[word] = current | mask;
    return true;
  }

  has(seq: number): boolean {
    const page = this.pages.get(Math.floor(seq / 1024));
    if (!page) return false;
    const bit = seq % 1024;
    return ((page[bit >>> 5] ?? 0) & (1 << (bit & 31))) !== 0;
  }
}
