import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { INGEST_RULES, type IngestRule } from "../lib/rule-table.js";
import { deliver, type RouterTargets } from "./deliver.js";
import { compileRule, topicMatches, type CompiledRule } from "./iot-sql.js";

export type { RouterTargets } from "./deliver.js";

/** AWS IoT Basic Ingest's reserved prefix: `$aws/rules/<rule>/<topic>`. */
const BASIC_INGEST = "$aws/rules/";

/**
 * The rule a Basic Ingest message names and the topic its rule sees (the prefix is not part of
 * it, for `topic(n)` too), or null for a message published to the broker.
 */
export function basicIngest(published: string): { rule: string; topic: string } | null {
  if (!published.startsWith(BASIC_INGEST)) return null;
  const rest = published.slice(BASIC_INGEST.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return null;
  return { rule: rest.slice(0, slash), topic: rest.slice(slash + 1) };
}

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
 * applies every rule of the table to each message (topic filter, or the one rule a Basic Ingest
 * topic names; WHERE, SELECT VALUE
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
    // `#` and `+` never match a topic beginning with `$`: Basic Ingest's needs its own filter.
    await client.subscribeAsync([...router.rules.map((r) => r.filter), `${BASIC_INGEST}#`], {
      qos: 1,
    });
    client.on("message", (topic, payload) => {
      // In arrival order: a container's records keep their order, as on one Kinesis shard.
      router.pending = router.pending.then(() => router.route(topic, payload.toString("utf8")));
    });
    return router;
  }

  private async route(published: string, text: string): Promise<void> {
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      payload = undefined; // AWS IoT hands non-JSON to SELECT * as base64; none of ours is
    }
    const direct = basicIngest(published);
    const topic = direct?.topic ?? published;
    if (direct && !this.rules.some((r) => r.rule.name === direct.rule)) {
      // IoT Core counts it (RuleNotFound) and drops it; kept here so that a test sees it.
      this.failures.push({ rule: direct.rule, topic, payload: text, error: "no such rule" });
    }
    for (const compiled of this.rules) {
      // Basic Ingest hands the message to the one rule it names, whatever its FROM; otherwise
      // every rule whose topic filter matches sees it.
      if (direct ? compiled.rule.name !== direct.rule : !topicMatches(compiled.filter, topic))
        continue;
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
