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
-- The job (job/, FaultyReefersJob) runs this file's statements in order and adds one operator that
-- SQL cannot express, the per-container windows (container_windows). Each ${NAME} is replaced
-- at deployment from the application's runtime properties, which the Analytics stack sets (the
-- stage's stream names, the region, the enhanced fan-out consumer).

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
  -- The shard's time, bounded out-of-orderness equal to the edge's allowed lateness. The windows
  -- close on each container's own watermark (below); this one closes those of a container that
  -- went quiet, a few minutes later.
  WATERMARK FOR ts AS ts - INTERVAL '10' SECOND
) WITH (
  'connector' = 'kinesis',
  'stream' = '${TELEMETRIES_STREAM}',
  'aws.region' = '${AWS_REGION}',
  'scan.stream.initpos' = 'LATEST',
  -- Enhanced fan-out: the job reads each shard through its own registered consumer (2 MiB/s a
  -- shard, pushed), instead of polling GetRecords every 200 ms out of the 5 reads a second a shard
  -- shares with the lake's Firehose. The consumer is the Analytics stack's (registration NONE).
  'scan.stream.recordpublisher' = 'EFO',
  'scan.stream.efo.consumername' = '${EFO_CONSUMER_NAME}',
  'scan.stream.efo.registration' = 'NONE',
  'scan.stream.efo.consumerarn.${TELEMETRIES_STREAM}' = '${EFO_CONSUMER_ARN}',
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
  'stream' = '${FAULTY_REEFERS_STREAM}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json'
);

-- The readings the windows count, one row each: the seed's pump, corrected (windows of event
-- time per container, the filter on the product's threshold, not on a literal 18). A record that
-- is no reading (no container, no time that parses) is left out here; its event time above only
-- keeps it from failing the job.
CREATE VIEW readings AS
SELECT container_id,
       ts,
       -- One-minute tumbling windows aligned to the epoch, as TUMBLE and the edge align them.
       FLOOR(ts TO MINUTE) AS window_start,
       FLOOR(ts TO MINUTE) + INTERVAL '1' MINUTE AS window_end,
       -- The container's watermark once this is its newest reading: the edge's allowed lateness
       -- behind it. Windows are closed per container (container_windows, below), not by the
       -- shard's one watermark, so a container that reaches the stream late is not late here.
       ts - INTERVAL '10' SECOND AS container_watermark,
       temperature >
  -- product thresholds: generated from core/products.ts by npm run config:docs; edit there
  CASE product_id
    WHEN 'P06' THEN 8
    ELSE 18
  END
  -- end of product thresholds
         AS over_threshold,
       temperature,
       seq
FROM telemetries
WHERE container_id IS NOT NULL
  AND TO_TIMESTAMP(REPLACE(REPLACE(measurement_time, 'T', ' '), 'Z', ''), 'yyyy-MM-dd HH:mm:ss.SSS') IS NOT NULL;

-- container_windows is the one step SQL cannot say: per container and window, the readings over
-- the threshold, a window closing when its own container's watermark reaches its last
-- millisecond. The job registers it over the view above (job/src/main/java/.../ContainerWindows.java).
INSERT INTO faulty_reefers
SELECT container_id,
       CAST(window_start AS TIMESTAMP(3)) AS window_start,
       CAST(window_end AS TIMESTAMP(3)) AS window_end,
       readings_over,
       max_temperature,
       first_seq,
       last_seq,
       'cloud' AS source
FROM container_windows;
