import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { INGEST_RULES, type IngestRule } from "../lib/rule-table.js";
import { deliver, type RouterTargets } from "./deliver.js";
import { compileRule, topicMatches, type CompiledRule } from "./iot-sql.js";

export type { RouterTargets } from "./deliver.js";

/** A message a rule could not deliver: what an IoT rule's error action keeps. */
export interface RouteFailure {
  readonly rule: string;
  readonly topic: string;
  readonly payload: string;
  readonly error: string;
}

/** A message a quarantine rule kept: what the deployed rule writes to S3 and counts. */
export interface Quarantined {
  readonly rule: string;
  readonly topic: string;
  readonly payload: string;
}

/**
 * AWS IoT's rules engine in small, for tests and local runs: subscribes to a real broker,
 * applies every rule of the table to each message (topic filter, WHERE, SELECT VALUE
 * unnesting, the `${topic(n)}` partition key) and puts the records into Kinesis and Firehose
 * (local stand-ins, or real ones). A put that fails is kept in `failures`, as a deployed rule's
 * error action keeps it in S3: never dropped silently.
 */
export class Router {
  readonly failures: RouteFailure[] = [];
  readonly quarantined: Quarantined[] = [];
  /** Messages fully routed. */
  routed = 0;
  private readonly rules: CompiledRule[];
  private pending = Promise.resolve();

  private constructor(
    private readonly client: MqttClient,
    private readonly targets: RouterTargets,
    rules: readonly IngestRule[],
  ) {
    this.rules = rules.map(compileRule);
  }

  static async connect(
    url: string,
    options: IClientOptions,
    targets: RouterTargets,
    rules: readonly IngestRule[] = INGEST_RULES,
  ): Promise<Router> {
    // A persistent session: nothing published while the router reconnects is lost.
    const client = await mqtt.connectAsync(url, { clean: false, reconnectPeriod: 500, ...options });
    const router = new Router(client, targets, rules);
    await client.subscribeAsync(
      router.rules.map((r) => r.filter),
      { qos: 1 },
    );
    client.on("message", (topic, payload) => {
      // In arrival order: a container's records keep their order, as on one Kinesis shard.
      router.pending = router.pending.then(() => router.route(topic, payload.toString("utf8")));
    });
    return router;
  }

  private async route(topic: string, text: string): Promise<void> {
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      payload = undefined; // AWS IoT hands non-JSON to SELECT * as base64; none of ours is
    }
    for (const compiled of this.rules) {
      if (!topicMatches(compiled.filter, topic)) continue;
      const records = compiled.evaluate(payload, topic);
      if (records.length === 0) continue;
      if (compiled.rule.target.kind === "quarantine") {
        this.quarantined.push({ rule: compiled.rule.name, topic, payload: text });
        continue;
      }
      try {
        await this.put(compiled.rule, topic, records);
      } catch (error) {
        this.failures.push({
          rule: compiled.rule.name,
          topic,
          payload: text,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    this.routed++;
  }

  private put(rule: IngestRule, topic: string, records: unknown[]): Promise<void> {
    return deliver(this.targets, rule, topic, records);
  }

  /** Resolves once every message received so far has been routed. */
  async drained(): Promise<void> {
    await this.pending;
  }

  async close(): Promise<void> {
    await this.pending;
    await this.client.endAsync();
  }
}
