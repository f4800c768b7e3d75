-- reefer-edge: the cloud's half of the seed's rule, for Amazon Managed Service for Apache Flink
-- (Flink SQL; Kinesis Data Analytics for SQL was shut down in January 2026).
--
-- Per container and minute of event time, the readings over their product's threshold (the
-- product table's, 18 °C for products it names none for), written to the faulty-reefers
-- stream. The edge agent evaluates the same windows with the same defaults
-- (rules.window.seconds: 60, rules.window.allowedLatenessSeconds: 10, the same product table),
-- so both sides produce the same alert for the same readings; test/deploy/flink-sql.test.ts
-- fails if these drift apart.
--
-- Run it as a Studio notebook paragraph (%flink.ssql) or package it in a Flink application with
-- the Kinesis connector; ${AWS_REGION} is replaced at deployment.

-- Source: live readings, one JSON object each (wire contract v1), put on the stream by the IoT
-- rule  SELECT * FROM 'dt/reefer/+/+/telemetry'.
CREATE TABLE telemetries (
  container_id          STRING,
  measurement_time      STRING,
  product_id            STRING,
  temperature           DOUBLE,
  target_temperature    DOUBLE,
  ambient_temperature   DOUBLE,
  humidity_level        DOUBLE,
  kilowatts             DOUBLE,
  oxygen_level          DOUBLE,
  carbon_dioxide_level  DOUBLE,
  nitrogen_level        DOUBLE,
  fan_1                 BOOLEAN,
  fan_2                 BOOLEAN,
  fan_3                 BOOLEAN,
  time_door_open        DOUBLE,
  defrost_cycle         BOOLEAN,
  latitude              DOUBLE,
  longitude             DOUBLE,
  gateway_id            STRING,
  boot_id               STRING,
  seq                   BIGINT,
  clock                 STRING,
  -- When the record reached the stream (Kinesis's ApproximateArrivalTimestamp).
  arrival TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  -- Event time from measurement_time ("2026-11-25T12:00:00.123Z", always UTC with ms), never
  -- later than the arrival, and the arrival where the time is missing or does not parse. A NULL
  -- event time fails the job ("RowTime field should not be null"), which restarts into the same
  -- record again and again; a gateway whose clock runs an hour ahead would move its shard's one
  -- watermark an hour ahead, and every other container's readings would be late. A synced
  -- gateway's reading is measured before it arrives, so the bound changes none of them.
  ts AS COALESCE(
    LEAST(
      TO_TIMESTAMP(REPLACE(REPLACE(measurement_time, 'T', ' '), 'Z', ''), 'yyyy-MM-dd HH:mm:ss.SSS'),
      CAST(arrival AS TIMESTAMP(3))),
    CAST(arrival AS TIMESTAMP(3))),
  -- Bounded out-of-orderness, equal to the edge's allowed lateness.
  WATERMARK FOR ts AS ts - INTERVAL '10' SECOND
) WITH (
  'connector' = 'kinesis',
  'stream' = 'telemetries',
  'aws.region' = '${AWS_REGION}',
  'scan.stream.initpos' = 'LATEST',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);

-- Sink: one record per window with readings over the threshold, partitioned by container so a
-- container's records stay in order. The edge's alerts for the same
-- window carry the same container_id and window_start, so consumers keep one of each pair.
CREATE TABLE faulty_reefers (
  container_id     STRING,
  window_start     TIMESTAMP(3),
  window_end       TIMESTAMP(3),
  readings_over    BIGINT,
  max_temperature  DOUBLE,
  first_seq        BIGINT,
  last_seq         BIGINT,
  source           STRING
) PARTITIONED BY (container_id) WITH (
  'connector' = 'kinesis',
  'stream' = 'faulty-reefers',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json'
);

-- The seed's pump, corrected: TUMBLE as a table-valued function over event time, the filter
-- before the grouping, and grouped by container and window (not by temperature).
INSERT INTO faulty_reefers
SELECT container_id, window_start, window_end,
       COUNT(*) AS readings_over,
       MAX(temperature) AS max_temperature,
       MIN(seq) AS first_seq,
       MAX(seq) AS last_seq,
       'cloud' AS source
FROM TABLE(TUMBLE(TABLE telemetries, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
-- A record that is no reading (no container, no time that parses) counts in no window; its
-- event time above only keeps it from failing the job.
WHERE temperature >
  -- product thresholds: generated from core/products.ts by npm run config:docs; edit there
  CASE product_id
    WHEN 'P06' THEN 8
    ELSE 18
  END
  -- end of product thresholds
  AND container_id IS NOT NULL
  AND TO_TIMESTAMP(REPLACE(REPLACE(measurement_time, 'T', ' '), 'Z', ''), 'yyyy-MM-dd HH:mm:ss.SSS') IS NOT NULL
GROUP BY container_id, window_start, window_end;
