/**
 * The IoT rules, as data in one place: the Ingest stack turns each into a topic rule, and the
 * local router (router/) applies the same table to a real broker's messages in tests and local
 * runs, so what is tested is what is deployed.
 *
 * Topics are the wire contract's (docs/wire-contract.md):
 * dt/reefer/{gateway_id}/{container_id}/{telemetry|alert|backfill}. Position 4 is the container
 * id, the partition key: a container's records stay in order on one shard.
 */
export type RuleTarget =
  | { readonly kind: "kinesis"; readonly stream: StreamName; readonly partitionKey: string }
  | {
      readonly kind: "firehose";
      readonly deliveryStream: "backfill";
      /** One Firehose record per element of the SELECT VALUE array. */
      readonly batchMode: true;
      /** Appended to each record: newline-delimited JSON, one reading a line, for Athena. */
      readonly separator: "\n";
    };

export type StreamName = "telemetries" | "faulty-reefers";

export interface IngestRule {
  /** The topic rule's name (letters, digits and underscores: AWS IoT's rule-name alphabet). */
  readonly name: string;
  readonly description: string;
  /** AWS IoT SQL, version 2016-03-23. */
  readonly sql: string;
  readonly target: RuleTarget;
}

/** AWS IoT SQL's version for every rule: the one with nested-object and VALUE support. */
export const SQL_VERSION = "2016-03-23";

export const INGEST_RULES: readonly IngestRule[] = [
  {
    name: "reefer_telemetry_to_kinesis",
    description: "Live readings, one a message, into the telemetries stream for the Flink job.",
    sql: "SELECT * FROM 'dt/reefer/+/+/telemetry'",
    target: { kind: "kinesis", stream: "telemetries", partitionKey: "${topic(4)}" },
  },
  {
    name: "reefer_alerts_to_kinesis",
    description: "The edge's alerts (reefer.alert.v1) into faulty-reefers, beside the job's.",
    sql: "SELECT * FROM 'dt/reefer/+/+/alert'",
    target: { kind: "kinesis", stream: "faulty-reefers", partitionKey: "${topic(4)}" },
  },
  {
    name: "reefer_backfill_to_lake",
    description:
      "Backfill envelopes unnested, one record a reading, into the lake: late data for the " +
      "streaming job, so it never enters it.",
    sql: "SELECT VALUE readings FROM 'dt/reefer/+/+/backfill' WHERE schema = 'reefer.backfill.v1'",
    target: { kind: "firehose", deliveryStream: "backfill", batchMode: true, separator: "\n" },
  },
];
