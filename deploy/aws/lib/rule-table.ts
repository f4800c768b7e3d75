/**
 * The IoT rules, as data in one place: the Ingest stack turns each into a topic rule, and the
 * local router (router/) applies the same table to a real broker's messages in tests and local
 * runs, so what is tested is what is deployed.
 *
 * Topics are the wire contract's (docs/wire-contract.md):
 * dt/reefer/{gateway_id}/{container_id}/{telemetry|alert|backfill}, and the gateway's audit log
 * on dt/reefer/{gateway_id}/audit. Position 4 is the container id, the partition key: a
 * container's records stay in order on one shard.
 */
export type RuleTarget =
  | { readonly kind: "kinesis"; readonly stream: StreamName; readonly partitionKey: string }
  | {
      /**
       * Kept and counted, never forwarded: deployed as an S3 action into the rule-errors bucket
       * (`quarantine/<rule>/<topic>/...`) and a CloudWatch metric, which an alarm watches.
       */
      readonly kind: "quarantine";
      readonly metricName: string;
    }
  | {
      /**
       * Kept for good: the ledger Lambda writes each message whole into the audit ledger bucket
       * (S3 Object Lock, COMPLIANCE), where the auditor's verifier reads the checkpoints, gap
       * records and alerts.
       */
      readonly kind: "ledger";
    }
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
  /**
   * Gateways may address this rule by AWS IoT Basic Ingest (`$aws/rules/<name>/<topic>`) when
   * the app is deployed with `-c basicIngest=true`: only rules that no other rule must see the
   * same message beside (a Basic Ingest message reaches the one rule it names).
   */
  readonly basicIngest?: true;
}

/** The CloudWatch namespace of the quarantine rules' counts. */
export const QUARANTINE_NAMESPACE = "reefer-edge";

/** AWS IoT SQL's version for every rule: the one with nested-object and VALUE support. */
export const SQL_VERSION = "2016-03-23";

/**
 * What a message must be to enter the path (the door). The gateway's IoT policy already holds
 * topic(3) to its own thing name; these hold the payload to its topic, so a gateway can neither
 * speak for another gateway's container nor put a record under a partition key that is not its
 * container's. An alert must be an edge alert (reefer.alert.v1) and never carry `source`: only
 * the Flink job writes `source: "cloud"`, and the act Lambda trusts it.
 */
export const TELEMETRY_DOOR = "gateway_id = topic(3) AND container_id = topic(4)";
export const ALERT_DOOR =
  "schema = 'reefer.alert.v1' AND gateway_id = topic(3) AND container_id = topic(4) AND isUndefined(source)";

/**
 * An audit message of the gateway whose topic it is on. Which kind (a checkpoint or a gap record)
 * the ledger writer checks, and refuses any other: the rule then fails it into its error action
 * and its failure alarm, so nothing unknown enters the locked ledger and nothing is dropped.
 */
export const AUDIT_DOOR = "gateway_id = topic(3)";

/**
 * Everything the door turns away. A test of a field the message lacks is Undefined in AWS IoT
 * SQL, and so is an AND over it, and NOT Undefined is Undefined too: `NOT (door)` would let such
 * a message vanish from both rules. A CASE whose value is Undefined matches no WHEN, so this form
 * keeps exactly what the door does not.
 */
export const turnedAway = (door: string): string =>
  `CASE ${door} WHEN true THEN false ELSE true END`;

export const INGEST_RULES: readonly IngestRule[] = [
  {
    name: "reefer_telemetry_to_kinesis",
    description: "Live readings, one a message, into the telemetries stream for the Flink job.",
    sql: `SELECT * FROM 'dt/reefer/+/+/telemetry' WHERE ${TELEMETRY_DOOR}`,
    target: { kind: "kinesis", stream: "telemetries", partitionKey: "${topic(4)}" },
    // By Basic Ingest, telemetry the door refuses no longer reaches reefer_telemetry_quarantine
    // (it shows as a hole in its gateway's audit log instead): the deployer's choice.
    basicIngest: true,
  },
  {
    name: "reefer_alerts_to_kinesis",
    description: "The edge's alerts (reefer.alert.v1) into faulty-reefers, beside the job's.",
    sql: `SELECT * FROM 'dt/reefer/+/+/alert' WHERE ${ALERT_DOOR}`,
    target: { kind: "kinesis", stream: "faulty-reefers", partitionKey: "${topic(4)}" },
  },
  {
    name: "reefer_alerts_to_ledger",
    description:
      "The edge's alerts, which are leaves of the gateways' audit logs, kept whole in the audit " +
      "ledger (Object Lock), where the auditor's verifier reads them beside the gap records.",
    sql: `SELECT * FROM 'dt/reefer/+/+/alert' WHERE ${ALERT_DOOR}`,
    target: { kind: "ledger" },
  },
  {
    name: "reefer_telemetry_quarantine",
    description:
      "Telemetry the door turned away (not its topic's gateway or container): kept, counted.",
    sql: `SELECT * FROM 'dt/reefer/+/+/telemetry' WHERE ${turnedAway(TELEMETRY_DOOR)}`,
    target: { kind: "quarantine", metricName: "QuarantinedTelemetry" },
  },
  {
    name: "reefer_alerts_quarantine",
    description:
      "Alerts the door turned away (not an edge alert of its topic's container): kept, counted.",
    sql: `SELECT * FROM 'dt/reefer/+/+/alert' WHERE ${turnedAway(ALERT_DOOR)}`,
    target: { kind: "quarantine", metricName: "QuarantinedAlerts" },
  },
  {
    name: "reefer_audit_to_ledger",
    description:
      "The gateways' signed checkpoints and gap records into the audit ledger (Object Lock).",
    sql: `SELECT * FROM 'dt/reefer/+/audit' WHERE ${AUDIT_DOOR}`,
    target: { kind: "ledger" },
  },
  {
    name: "reefer_audit_quarantine",
    description: "Audit messages the door turned away (not its topic's gateway): kept, counted.",
    sql: `SELECT * FROM 'dt/reefer/+/audit' WHERE ${turnedAway(AUDIT_DOOR)}`,
    target: { kind: "quarantine", metricName: "QuarantinedAudit" },
  },
  {
    name: "reefer_backfill_to_lake",
    description:
      "Backfill envelopes unnested, one record a reading, into the lake: late data for the " +
      "streaming job, so it never enters it.",
    sql: "SELECT VALUE readings FROM 'dt/reefer/+/+/backfill' WHERE schema = 'reefer.backfill.v1'",
    target: { kind: "firehose", deliveryStream: "backfill", batchMode: true, separator: "\n" },
    basicIngest: true,
  },
];
