import { Duration, Stack } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { CfnTable } from "aws-cdk-lib/aws-glue";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Bucket, CfnBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { HOURLY_COLUMNS, HOURLY_PREFIX, HOURLY_TABLE } from "./lake-hourly.js";
import { acknowledge } from "./nag.js";
import { nodeLambda } from "./node-lambda.js";

export interface HourlyCompactionProps {
  readonly bucket: Bucket;
  readonly database: string;
  readonly readingsTable: string;
  readonly readingsPrefix: string;
  readonly workGroup: string;
  readonly projectedDates: string;
}

/**
 * The hourly table (lake-hourly.ts) and what fills it: a Lambda, run daily at 01:30 UTC, that
 * computes the last days again with Athena. Partition projection, as on the readings: a new day
 * is queryable as soon as its Parquet is written.
 */
export class HourlyCompaction extends Construct {
  readonly fn: NodejsFunction;

  constructor(scope: Construct, id: string, props: HourlyCompactionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const location = `s3://${props.bucket.bucketName}/${HOURLY_PREFIX}`;
    new CfnTable(this, "Table", {
      catalogId: stack.account,
      databaseName: props.database,
      tableInput: {
        name: HOURLY_TABLE,
        description: "Readings per container and hour, deduplicated (the daily compaction)",
        tableType: "EXTERNAL_TABLE",
        partitionKeys: [{ name: "date", type: "string" }],
        parameters: {
          classification: "parquet",
          "projection.enabled": "true",
          "projection.date.type": "date",
          "projection.date.format": "yyyy-MM-dd",
          "projection.date.range": props.projectedDates,
          "projection.date.interval": "1",
          "projection.date.interval.unit": "DAYS",
          "storage.location.template": `${location}date=\${date}/`,
        },
        storageDescriptor: {
          location,
          columns: HOURLY_COLUMNS.map((c) => ({ name: c.name, type: c.type })),
          inputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
          outputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
          serdeInfo: {
            serializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
          },
        },
      },
    });

    this.fn = nodeLambda(this, "Compact", {
      entry: "lambda/compact/handler.ts",
      timeout: Duration.minutes(15),
      logRetention: RetentionDays.THREE_MONTHS,
      environment: {
        LAKE_BUCKET: props.bucket.bucketName,
        LAKE_DATABASE: props.database,
        READINGS_TABLE: props.readingsTable,
        LAKE_WORKGROUP: props.workGroup,
      },
    });
    const workGroupArn = stack.formatArn({
      service: "athena",
      resource: "workgroup",
      resourceName: props.workGroup,
    });
    this.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["athena:StartQueryExecution", "athena:GetQueryExecution"],
        resources: [workGroupArn],
      }),
    );
    this.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
        resources: [
          stack.formatArn({ service: "glue", resource: "catalog" }),
          stack.formatArn({ service: "glue", resource: "database", resourceName: props.database }),
          stack.formatArn({
            service: "glue",
            resource: "table",
            resourceName: `${props.database}/*`,
          }),
        ],
      }),
    );
    // Athena reads the readings with the caller's rights, and writes the UNLOAD and its result.
    props.bucket.grantRead(this.fn, `${props.readingsPrefix}*`);
    props.bucket.grantReadWrite(this.fn, `${HOURLY_PREFIX}*`);
    props.bucket.grantDelete(this.fn, `${HOURLY_PREFIX}*`);
    props.bucket.grantReadWrite(this.fn, "athena-results/*");
    const lake = `<${stack.getLogicalId(props.bucket.node.defaultChild as CfnBucket)}.Arn>`;
    acknowledge(this.fn.role ?? this.fn, {
      [`IAM5[Resource::${lake}/${props.readingsPrefix}*]`]: "Athena reads the day's readings",
      [`IAM5[Resource::${lake}/${HOURLY_PREFIX}*]`]: "the compaction writes and empties a day",
      [`IAM5[Resource::${lake}/athena-results/*]`]: "Athena writes each query's result file",
      "IAM5[Action::s3:GetObject*]": "grantRead's actions, on the lake's prefixes only",
      "IAM5[Action::s3:GetBucket*]": "grantRead's actions, on the lake bucket only",
      "IAM5[Action::s3:List*]": "grantRead's actions, on the lake bucket only",
      "IAM5[Action::s3:DeleteObject*]": "the compaction empties a day of hourly/ before writing it",
      "IAM5[Action::s3:Abort*]": "Athena's UNLOAD writes in multipart uploads",
      [`IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${props.database}/*]`]:
        "Athena reads the readings table and writes the hourly one",
    });

    new Rule(this, "Daily", {
      description: "The lake's hourly table: the last days computed again, after midnight UTC",
      schedule: Schedule.cron({ minute: "30", hour: "1" }),
      targets: [new LambdaFunction(this.fn, { retryAttempts: 2 })],
    });
  }
}
