import { Stack, type StackProps } from "aws-cdk-lib";
import { StageNames } from "./stage-names.js";
import { CfnNamedQuery, CfnWorkGroup } from "aws-cdk-lib/aws-athena";
import { CfnDatabase, CfnTable } from "aws-cdk-lib/aws-glue";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { Stream } from "aws-cdk-lib/aws-kinesis";
import { CfnDeliveryStream } from "aws-cdk-lib/aws-kinesisfirehose";
import type { Bucket, CfnBucket } from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { HourlyCompaction } from "./hourly-compaction.js";
import { productThresholdCase } from "./product-thresholds.js";
import { READING_COLUMNS } from "./lake-columns.js";
import { acknowledge } from "./nag.js";
import { COLDER_WITH_AGE, secureBucket } from "./secure-bucket.js";

export interface LakeProps extends StackProps {
  readonly telemetries: Stream;
}

/** Where readings land in the bucket: one folder a day of event time (measurement_time). */
export const READINGS_PREFIX = "readings/";
export const DATABASE_NAME = "reefer_lake";
export const TABLE_NAME = "readings";
export const LAKE_WORKGROUP = "reefer-lake";
/** The two Firehoses into the lake, and how long each buffers before it writes. */
/**
 * The day a reading is filed under (Firehose's dynamic partitioning, jq 1.6): its own date when
 * its clock was synced and the date is real and between the clock floor (2026-01-01, the agent's
 * CLOCK_FLOOR_MS) and tomorrow; else the day it arrived (jq's `now` is Firehose's processing
 * time). A gateway booted in 1970, a clock run to 2099 or a malformed time no longer scatters
 * readings into partitions that the table's projection never reads. The agent marks a reading
 * taken before its clock was set `clock: "unsynced"` and rewrites it as synced once the clock is
 * corrected; what stays unsynced is filed by arrival, as the edge treats it.
 */
export const PARTITION_QUERY =
  '{date: ((now | strftime("%Y-%m-%d")) as $today' +
  ' | ((now + 86400) | strftime("%Y-%m-%d")) as $tomorrow' +
  ' | (.measurement_time | if type == "string" then .[0:10] else "" end) as $day' +
  ' | if .clock == "synced" and $day >= "2026-01-01" and $day <= $tomorrow' +
  ' and (try ($day | strptime("%Y-%m-%d") | mktime | strftime("%Y-%m-%d")) catch "") == $day' +
  " then $day else $today end)}";

/** The days the table's partition projection reads: the clock floor to tomorrow. */
export const PROJECTED_DATES = "2026-01-01,NOW+1DAYS";

export const DELIVERY_STREAMS = ["reefer-live-to-lake", "reefer-backfill-to-lake"] as const;
export const DELIVERY_BUFFER_SECONDS = 300;

/**
 * The data lake: every reading, live (Firehose reading `telemetries`) and backfilled (a direct
 * Firehose the backfill rule writes to), as newline-delimited JSON in S3, one partition a day of
 * the reading's own time, so a backlog delivered days late lands beside its day's live readings.
 * A Glue table over it and an Athena workgroup with the queries operators ask first.
 */
export class LakeStack extends Stack {
  readonly bucket: Bucket;
  readonly backfill: CfnDeliveryStream;
  /** The daily compaction into the hourly table, for its alarm. */
  readonly compaction: NodejsFunction;

  constructor(scope: Construct, id: string, props: LakeProps) {
    super(scope, id, props);
    const names = StageNames.of(this);
    const logs = secureBucket(this, "AccessLogs");
    this.bucket = secureBucket(this, "Lake", { logs, lifecycleRules: [COLDER_WITH_AGE] });

    const role = new Role(this, "FirehoseRole", {
      assumedBy: new ServicePrincipal("firehose.amazonaws.com"),
      description: "Firehose: read telemetries, write the lake",
    });
    // What Firehose's S3 destination needs, and no more (grantReadWrite would add deletes).
    role.addToPolicy(
      new PolicyStatement({
        actions: ["s3:PutObject", "s3:AbortMultipartUpload"],
        resources: [
          this.bucket.arnForObjects(`${READINGS_PREFIX}*`),
          this.bucket.arnForObjects("errors/*"),
        ],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
        resources: [this.bucket.bucketArn],
      }),
    );
    props.telemetries.grantRead(role);
    acknowledge(role, {
      [`IAM5[Resource::<${this.getLogicalId(this.bucket.node.defaultChild as CfnBucket)}.Arn>/${READINGS_PREFIX}*]`]:
        "Firehose writes objects under readings/, named by date and its own ids",
      [`IAM5[Resource::<${this.getLogicalId(this.bucket.node.defaultChild as CfnBucket)}.Arn>/errors/*]`]:
        "Firehose writes the records it could not deliver under errors/",
    });

    const destination = (name: string, appendNewline: boolean) => ({
      bucketArn: this.bucket.bucketArn,
      roleArn: role.roleArn,
      prefix: `${READINGS_PREFIX}date=!{partitionKeyFromQuery:date}/source=${name}/`,
      errorOutputPrefix: `errors/${name}/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/`,
      // Dynamic partitioning needs buffers of at least 64 MB; five minutes bounds the delay.
      bufferingHints: { intervalInSeconds: DELIVERY_BUFFER_SECONDS, sizeInMBs: 64 },
      compressionFormat: "GZIP",
      dynamicPartitioningConfiguration: { enabled: true, retryOptions: { durationInSeconds: 300 } },
      processingConfiguration: {
        enabled: true,
        processors: [
          {
            type: "MetadataExtraction",
            parameters: [
              { parameterName: "MetadataExtractionQuery", parameterValue: PARTITION_QUERY },
              { parameterName: "JsonParsingEngine", parameterValue: "JQ-1.6" },
            ],
          },
          ...(appendNewline
            ? [
                {
                  type: "AppendDelimiterToRecord",
                  parameters: [{ parameterName: "Delimiter", parameterValue: "\\n" }],
                },
              ]
            : []),
        ],
      },
    });

    const live = new CfnDeliveryStream(this, "LiveToLake", {
      deliveryStreamName: names.dash(DELIVERY_STREAMS[0]),
      deliveryStreamType: "KinesisStreamAsSource",
      kinesisStreamSourceConfiguration: {
        kinesisStreamArn: props.telemetries.streamArn,
        roleArn: role.roleArn,
      },
      // Kinesis records carry no delimiter; the backfill rule's records end in one already.
      extendedS3DestinationConfiguration: destination("live", true),
    });
    live.node.addDependency(role);
    acknowledge(live, {
      KDF1:
        "A delivery stream whose source is a Kinesis stream cannot have its own server-side " +
        "encryption: the source stream is encrypted (KMS) and the bucket is (SSE-S3)",
    });
    this.backfill = new CfnDeliveryStream(this, "BackfillToLake", {
      deliveryStreamName: names.dash(DELIVERY_STREAMS[1]),
      deliveryStreamType: "DirectPut",
      deliveryStreamEncryptionConfigurationInput: { keyType: "AWS_OWNED_CMK" },
      extendedS3DestinationConfiguration: destination("backfill", false),
    });
    this.backfill.node.addDependency(role);

    const database = new CfnDatabase(this, "Database", {
      catalogId: this.account,
      databaseInput: {
        name: names.underscore(DATABASE_NAME),
        description: "reefer-edge: every reading captured",
      },
    });
    const location = `s3://${this.bucket.bucketName}/${READINGS_PREFIX}`;
    const table = new CfnTable(this, "Readings", {
      catalogId: this.account,
      databaseName: names.underscore(DATABASE_NAME),
      tableInput: {
        name: TABLE_NAME,
        description: "Readings (wire contract v1), live and backfilled; duplicates possible",
        tableType: "EXTERNAL_TABLE",
        partitionKeys: [
          { name: "date", type: "string" },
          { name: "source", type: "string" },
        ],
        parameters: {
          classification: "json",
          // Partition projection: no crawler, no MSCK REPAIR; a new day is queryable at once.
          "projection.enabled": "true",
          "projection.date.type": "date",
          "projection.date.format": "yyyy-MM-dd",
          // Tomorrow too: a synced clock a few hours ahead of Firehose's lands on it.
          "projection.date.range": PROJECTED_DATES,
          "projection.date.interval": "1",
          "projection.date.interval.unit": "DAYS",
          "projection.source.type": "enum",
          "projection.source.values": "live,backfill",
          "storage.location.template": `${location}date=\${date}/source=\${source}/`,
        },
        storageDescriptor: {
          location,
          columns: READING_COLUMNS.map((c) => ({ name: c.name, type: c.type })),
          inputFormat: "org.apache.hadoop.mapred.TextInputFormat",
          outputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
          serdeInfo: {
            serializationLibrary: "org.openx.data.jsonserde.JsonSerDe",
            parameters: { "ignore.malformed.json": "true" },
          },
        },
      },
    });
    table.node.addDependency(database);

    // What the dashboard reads: an hour a row, in Parquet (lake-hourly.ts).
    const hourly = new HourlyCompaction(this, "Hourly", {
      bucket: this.bucket,
      database: names.underscore(DATABASE_NAME),
      readingsTable: TABLE_NAME,
      readingsPrefix: READINGS_PREFIX,
      workGroup: names.dash(LAKE_WORKGROUP),
      projectedDates: PROJECTED_DATES,
    });
    hourly.node.addDependency(database);
    this.compaction = hourly.fn;

    const workgroup = new CfnWorkGroup(this, "WorkGroup", {
      name: names.dash(LAKE_WORKGROUP),
      description: "Queries over the reefer lake",
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        resultConfiguration: {
          outputLocation: `s3://${this.bucket.bucketName}/athena-results/`,
          encryptionConfiguration: { encryptionOption: "SSE_S3" },
        },
      },
    });
    for (const [id, query] of Object.entries(SAVED_QUERIES)) {
      new CfnNamedQuery(this, id, {
        database: names.underscore(DATABASE_NAME),
        workGroup: workgroup.name,
        name: query.name,
        description: query.description,
        queryString: query.sql,
      }).node.addDependency(workgroup);
    }
  }
}

/** Deduplicated readings: at-least-once delivery means a reading may land twice. */
const DEDUPLICATED = `WITH ranked AS (
  SELECT r.*, row_number() OVER (PARTITION BY container_id, seq ORDER BY source DESC) AS copy
  FROM ${TABLE_NAME} r
  WHERE date BETWEEN ? AND ?
)
SELECT * FROM ranked WHERE copy = 1`;

export const SAVED_QUERIES: Readonly<
  Record<string, { readonly name: string; readonly description: string; readonly sql: string }>
> = {
  VoyageQuery: {
    name: "readings-of-a-container-over-a-voyage",
    description: "One container's readings between two days, deduplicated, in seq order",
    sql: `SELECT container_id, seq, measurement_time, temperature, target_temperature, kilowatts, gateway_id
FROM (${DEDUPLICATED})
WHERE container_id = ?
ORDER BY seq`,
  },
  ExcursionsQuery: {
    name: "excursions-per-day",
    description:
      "Per day and container: readings over their product's threshold (the product table's) and the hottest",
    sql: `SELECT date, container_id, count(*) AS readings_over, max(temperature) AS max_temperature
FROM (${DEDUPLICATED})
WHERE temperature > ${productThresholdCase()}
GROUP BY date, container_id
ORDER BY date, readings_over DESC`,
  },
  DeduplicatedQuery: {
    name: "deduplicated-readings",
    description: "Every reading once, by (container_id, seq), between two days",
    sql: DEDUPLICATED,
  },
};
