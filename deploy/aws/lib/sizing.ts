/**
 * Sizing the telemetries stream from the fleet's numbers, and what the path costs a month at
 * list prices: `npm run synth -- -c containers=10000 -c intervalSeconds=1` prints both (the CDK
 * CLI passes `-c` to the app; `npm run deploy -- -c ...` deploys what it computes).
 *
 * A shard takes 1,000 records or 1 MiB a second of writes. The stream gets 70 % headroom above
 * the steady rate (shards = rate × 1.7 / shard limit, by records and by bytes, the larger): a
 * fleet reconnecting after an outage sends its live readings beside the backfill rule's, and a
 * throttled put is a reading the rule sends to its error bucket instead of the lake. On-demand
 * is there by choice (`-c telemetriesOnDemand=true`): it starts at 4,000 records/s and doubles
 * its capacity only after the peak it saw, so a 1 Hz fleet of 10,000 is throttled at its first
 * minute; at a steady rate it also costs several times the shards.
 */

export interface FleetLoad {
  readonly containers: number;
  /** Seconds between two readings of a container. */
  readonly intervalSeconds: number;
  /** A reading as the telemetry rule puts it (wire contract v1, JSON): about 700 bytes. */
  readonly recordBytes: number;
}

export const DEFAULT_LOAD: FleetLoad = {
  containers: 10_000,
  intervalSeconds: 60,
  recordBytes: 700,
};
export const HEADROOM = 1.7;
const SHARD_RECORDS_PER_SECOND = 1000;
const SHARD_BYTES_PER_SECOND = 1024 * 1024;

export interface StreamSizing {
  readonly readingsPerSecond: number;
  readonly bytesPerSecond: number;
  readonly shardsByRecords: number;
  readonly shardsByBytes: number;
  readonly shards: number;
}

export function sizeTelemetries(load: FleetLoad): StreamSizing {
  if (!(load.containers > 0) || !(load.intervalSeconds > 0) || !(load.recordBytes > 0))
    throw new Error(
      `sizing: containers, intervalSeconds and recordBytes must be positive numbers (got ${JSON.stringify(load)})`,
    );
  const readingsPerSecond = load.containers / load.intervalSeconds;
  const bytesPerSecond = readingsPerSecond * load.recordBytes;
  const shardsByRecords = Math.ceil((readingsPerSecond * HEADROOM) / SHARD_RECORDS_PER_SECOND);
  const shardsByBytes = Math.ceil((bytesPerSecond * HEADROOM) / SHARD_BYTES_PER_SECOND);
  return {
    readingsPerSecond,
    bytesPerSecond,
    shardsByRecords,
    shardsByBytes,
    shards: Math.max(1, shardsByRecords, shardsByBytes),
  };
}

/**
 * List prices in US East (N. Virginia), from the services' pricing pages (AWS IoT Core, Kinesis
 * Data Streams, Amazon Data Firehose). They change: update them here, with the date.
 */
export const PRICES = {
  asOf: "2026-12",
  iotMessagePerMillion: 1.0, // messaging, metered in 5 KB steps, first billion a month
  iotConnectionMinutePerMillion: 0.08,
  iotRuleTriggeredPerMillion: 0.15,
  iotActionPerMillion: 0.15,
  kinesisShardHour: 0.015,
  kinesisExtendedRetentionShardHour: 0.02, // retention past 24 h (the stream keeps 7 days)
  kinesisPutUnitPerMillion: 0.014, // 25 KB steps
  firehoseIngestedGb: 0.029, // records metered in 5 KB steps
  firehoseDynamicPartitioningGb: 0.02,
  firehoseObjectsPerThousand: 0.005,
  firehoseJqHour: 0.07,
} as const;

const HOURS_A_MONTH = 730;
const SECONDS_A_MONTH = HOURS_A_MONTH * 3600;

export interface MonthlyCost {
  readonly iot: number;
  readonly kinesis: number;
  readonly firehose: number;
  readonly total: number;
}

/**
 * The live path's steady monthly cost for a load on a number of shards: every reading is one
 * MQTT message, one rule triggered with one action, one Kinesis put, and one record through the
 * live Firehose (with dynamic partitioning, one object per day-partition every 5 minutes).
 * Alerts, backfill, shadows and S3 are left out: at this load they are a small part.
 */
export function monthlyCost(
  load: FleetLoad,
  sizing: StreamSizing,
  basicIngest = false,
): MonthlyCost {
  const p = PRICES;
  const messages = sizing.readingsPerSecond * SECONDS_A_MONTH;
  const millions = messages / 1e6;
  const fiveKbSteps = Math.ceil(load.recordBytes / 5120);
  // Basic Ingest hands each reading to its rule without the broker: no messaging charge.
  const messaging = basicIngest ? 0 : millions * fiveKbSteps * p.iotMessagePerMillion;
  const iot =
    messaging +
    ((load.containers * SECONDS_A_MONTH) / 60 / 1e6) * p.iotConnectionMinutePerMillion +
    millions * (p.iotRuleTriggeredPerMillion + p.iotActionPerMillion);
  const kinesis =
    sizing.shards * HOURS_A_MONTH * (p.kinesisShardHour + p.kinesisExtendedRetentionShardHour) +
    millions * Math.ceil(load.recordBytes / 25_600) * p.kinesisPutUnitPerMillion;
  const gb = (messages * fiveKbSteps * 5120) / 1024 ** 3;
  const rawGb = (messages * load.recordBytes) / 1024 ** 3;
  const objects = (SECONDS_A_MONTH / 300) * 2; // a day partition or two every buffer interval
  const firehose =
    gb * p.firehoseIngestedGb +
    rawGb * p.firehoseDynamicPartitioningGb +
    (objects / 1000) * p.firehoseObjectsPerThousand +
    HOURS_A_MONTH * p.firehoseJqHour;
  return { iot, kinesis, firehose, total: iot + kinesis + firehose };
}

/** What synth prints: the computation, the shards, and the month's cost. */
export function describeSizing(
  load: FleetLoad,
  sizing: StreamSizing,
  onDemand: boolean,
  basicIngest = false,
): string {
  const cost = monthlyCost(load, sizing, basicIngest);
  const saved = monthlyCost(load, sizing, false).iot - monthlyCost(load, sizing, true).iot;
  const usd = (n: number) => `$${n.toLocaleString("en-US", { maximumFractionDigits: 0 })}`;
  const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 1 });
  return [
    `telemetries sizing: ${fmt(load.containers)} containers, a reading every ${fmt(load.intervalSeconds)} s, ${load.recordBytes} B each`,
    `  ${fmt(sizing.readingsPerSecond)} readings/s, ${fmt(sizing.bytesPerSecond / 1024)} KiB/s; with ${Math.round((HEADROOM - 1) * 100)} % headroom: ${sizing.shardsByRecords} shards by records, ${sizing.shardsByBytes} by bytes`,
    onDemand
      ? "  on-demand (by choice): capacity follows the peak it saw, from 4,000 records/s"
      : `  provisioned: ${sizing.shards} shards`,
    `  a month at list prices (${PRICES.asOf}, us-east-1, provisioned): IoT Core ${usd(cost.iot)}, Kinesis ${usd(cost.kinesis)}, Firehose ${usd(cost.firehose)}; ${usd(cost.total)} in all`,
    basicIngest
      ? `  readings by Basic Ingest: no messaging charge (${usd(saved)} a month less)`
      : `  readings through the broker: -c basicIngest=true would save their messaging, ${usd(saved)} a month`,
  ].join("\n");
}
