import { productThresholdCase } from "./product-thresholds.js";

/**
 * The lake's hourly table: one row per container and hour, deduplicated by (container_id, seq),
 * in Parquet, one partition a day. The dashboard reads it instead of the readings: 90 days of
 * 10,000 containers are 21.6 million small rows of the few columns a visual reads, where the
 * readings' gzipped JSON is a billion rows read whole (lake-scan.ts computes both).
 *
 * The readings stay as they land (newline-delimited JSON, every field), the record of what each
 * gateway sent: `reefer-edge audit verify` recomputes each leaf from it, and a conversion that
 * dropped or retyped a field would make the record unverifiable.
 */

/** Where the hourly rows lie in the lake bucket: `hourly/date=YYYY-MM-DD/`. */
export const HOURLY_PREFIX = "hourly/";
export const HOURLY_TABLE = "readings_hourly";

/** The days the daily compaction computes again: late backfill changes the days before. */
export const COMPACTED_DAYS = 3;

/** The hourly table's columns, in the order the compaction's SELECT writes them. */
export const HOURLY_COLUMNS: readonly { readonly name: string; readonly type: string }[] = [
  { name: "container_id", type: "string" },
  { name: "gateway_id", type: "string" },
  { name: "product_id", type: "string" },
  { name: "hour", type: "timestamp" },
  { name: "readings", type: "bigint" },
  { name: "temperature_min", type: "double" },
  { name: "temperature_max", type: "double" },
  { name: "temperature_avg", type: "double" },
  { name: "target_temperature", type: "double" },
  { name: "over_threshold", type: "bigint" },
  { name: "backfilled", type: "bigint" },
];

/**
 * One day of hourly rows, written as Parquet under the day's prefix (Athena UNLOAD, which needs
 * the prefix empty: the compaction empties it first, so a run repeated gives the same rows).
 * Readings are deduplicated by (container_id, seq), the live copy first; a reading belongs to
 * the day and hour of its own time, as the readings table files it. "Over" is over the product
 * table's threshold, as the Flink job and the edge count it.
 */
export function hourlyUnloadSql(
  database: string,
  readingsTable: string,
  bucket: string,
  day: string,
): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`a day is YYYY-MM-DD, not ${day}`);
  return `UNLOAD (
  SELECT container_id,
         arbitrary(gateway_id) AS gateway_id,
         arbitrary(product_id) AS product_id,
         date_trunc('hour', from_iso8601_timestamp(measurement_time)) AS hour,
         count(*) AS readings,
         min(temperature) AS temperature_min,
         max(temperature) AS temperature_max,
         avg(temperature) AS temperature_avg,
         avg(target_temperature) AS target_temperature,
         count_if(temperature > ${productThresholdCase().replace(/\n/g, "\n         ")}) AS over_threshold,
         count_if(source = 'backfill') AS backfilled
  FROM (
    SELECT r.*, row_number() OVER (PARTITION BY container_id, seq ORDER BY source DESC) AS copy
    FROM ${database}.${readingsTable} r
    WHERE date = '${day}' AND container_id IS NOT NULL
      AND try(from_iso8601_timestamp(measurement_time)) IS NOT NULL
  )
  WHERE copy = 1
  GROUP BY container_id, date_trunc('hour', from_iso8601_timestamp(measurement_time))
) TO 's3://${bucket}/${HOURLY_PREFIX}date=${day}/'
WITH (format = 'PARQUET', compression = 'SNAPPY')`;
}
