import { Stack, type StackProps } from "aws-cdk-lib";
import { StageNames } from "./stage-names.js";
import { CfnDashboard, CfnDataSet, CfnDataSource } from "aws-cdk-lib/aws-quicksight";
import type { Construct } from "constructs";
import { HOURLY_TABLE } from "./lake-hourly.js";
import { DATABASE_NAME } from "./lake-stack.js";

export interface DashboardProps extends StackProps {
  /** Who may see and manage it: a QuickSight user or group ARN. */
  readonly principalArn: string;
  /** The Athena workgroup over the lake (the Lake stack's). */
  readonly workGroup: string;
}

const DATA_SET = "readings";
const READ = [
  "quicksight:DescribeDataSource",
  "quicksight:DescribeDataSourcePermissions",
  "quicksight:PassDataSource",
];

/**
 * The original lab's QuickSight view, as code: an Athena data source over the lake, a data set
 * of the last 90 days per container and hour (the hourly table), and a dashboard with the
 * temperature of each container against its setpoint, excursions per day, and the gateways that
 * held a backlog (their readings arrived as backfill). Off by default: QuickSight needs an
 * account subscription, and its service role needs access to Athena and the lake's bucket
 * (QuickSight's own account settings). Enable with -c quicksightPrincipal=<user or group ARN>.
 */
export class DashboardStack extends Stack {
  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id, props);
    const source = new CfnDataSource(this, "LakeSource", {
      awsAccountId: this.account,
      dataSourceId: StageNames.of(this).dash("reefer-lake"),
      name: "reefer lake (Athena)",
      type: "ATHENA",
      dataSourceParameters: { athenaParameters: { workGroup: props.workGroup } },
      permissions: [
        {
          principal: props.principalArn,
          actions: [
            ...READ,
            "quicksight:UpdateDataSource",
            "quicksight:DeleteDataSource",
            "quicksight:UpdateDataSourcePermissions",
          ],
        },
      ],
    });

    const dataSet = new CfnDataSet(this, "Readings", {
      awsAccountId: this.account,
      dataSetId: StageNames.of(this).dash("reefer-readings"),
      name: "reefer readings per hour, last 90 days",
      importMode: "DIRECT_QUERY",
      physicalTableMap: {
        [DATA_SET]: {
          customSql: {
            dataSourceArn: source.attrArn,
            name: "hourly readings",
            sqlQuery: dataSetSql(StageNames.of(this).underscore(DATABASE_NAME)),
            columns: [
              { name: "container_id", type: "STRING" },
              { name: "gateway_id", type: "STRING" },
              { name: "measured_at", type: "DATETIME" },
              { name: "temperature", type: "DECIMAL" },
              { name: "target_temperature", type: "DECIMAL" },
              { name: "day", type: "STRING" },
              { name: "over_threshold", type: "INTEGER" },
              { name: "backfilled", type: "INTEGER" },
            ],
          },
        },
      },
      permissions: [
        {
          principal: props.principalArn,
          actions: [
            "quicksight:DescribeDataSet",
            "quicksight:DescribeDataSetPermissions",
            "quicksight:PassDataSet",
            "quicksight:DescribeIngestion",
            "quicksight:ListIngestions",
            "quicksight:UpdateDataSet",
            "quicksight:DeleteDataSet",
            "quicksight:CreateIngestion",
            "quicksight:CancelIngestion",
            "quicksight:UpdateDataSetPermissions",
          ],
        },
      ],
    });

    const column = (columnName: string) => ({ dataSetIdentifier: DATA_SET, columnName });
    const title = (plainText: string) => ({ visibility: "VISIBLE", formatText: { plainText } });
    new CfnDashboard(this, "Dashboard", {
      awsAccountId: this.account,
      dashboardId: StageNames.of(this).dash("reefer-voyages"),
      name: "Reefers: voyages, excursions, backlogs",
      permissions: [
        {
          principal: props.principalArn,
          actions: [
            "quicksight:DescribeDashboard",
            "quicksight:ListDashboardVersions",
            "quicksight:QueryDashboard",
            "quicksight:UpdateDashboard",
            "quicksight:DeleteDashboard",
            "quicksight:UpdateDashboardPermissions",
            "quicksight:DescribeDashboardPermissions",
            "quicksight:UpdateDashboardPublishedVersion",
          ],
        },
      ],
      definition: {
        dataSetIdentifierDeclarations: [{ identifier: DATA_SET, dataSetArn: dataSet.attrArn }],
        sheets: [
          {
            sheetId: "voyages",
            name: "Voyages",
            visuals: [
              {
                lineChartVisual: {
                  visualId: "temperature-against-setpoint",
                  title: title("Temperature against setpoint, by container"),
                  chartConfiguration: {
                    fieldWells: {
                      lineChartAggregatedFieldWells: {
                        category: [
                          {
                            dateDimensionField: {
                              fieldId: "measured-at",
                              column: column("measured_at"),
                              dateGranularity: "MINUTE",
                            },
                          },
                        ],
                        values: [
                          {
                            numericalMeasureField: {
                              fieldId: "temperature",
                              column: column("temperature"),
                              aggregationFunction: { simpleNumericalAggregation: "AVERAGE" },
                            },
                          },
                          {
                            numericalMeasureField: {
                              fieldId: "setpoint",
                              column: column("target_temperature"),
                              aggregationFunction: { simpleNumericalAggregation: "AVERAGE" },
                            },
                          },
                        ],
                        colors: [],
                      },
                    },
                  },
                },
              },
              {
                barChartVisual: {
                  visualId: "excursions-per-day",
                  title: title("Readings over their product's threshold per day, by container"),
                  chartConfiguration: {
                    fieldWells: {
                      barChartAggregatedFieldWells: {
                        category: [
                          { categoricalDimensionField: { fieldId: "day", column: column("day") } },
                        ],
                        values: [
                          {
                            numericalMeasureField: {
                              fieldId: "over-threshold",
                              column: column("over_threshold"),
                              aggregationFunction: { simpleNumericalAggregation: "SUM" },
                            },
                          },
                        ],
                        colors: [
                          {
                            categoricalDimensionField: {
                              fieldId: "container",
                              column: column("container_id"),
                            },
                          },
                        ],
                      },
                    },
                  },
                },
              },
              {
                tableVisual: {
                  visualId: "gateways-with-backlogs",
                  title: title("Gateways with backlogs: readings delivered as backfill"),
                  chartConfiguration: {
                    fieldWells: {
                      tableAggregatedFieldWells: {
                        groupBy: [
                          {
                            categoricalDimensionField: {
                              fieldId: "gateway",
                              column: column("gateway_id"),
                            },
                          },
                        ],
                        values: [
                          {
                            numericalMeasureField: {
                              fieldId: "backfilled",
                              column: column("backfilled"),
                              aggregationFunction: { simpleNumericalAggregation: "SUM" },
                            },
                          },
                        ],
                      },
                    },
                  },
                },
              },
            ],
          },
        ],
      },
    });
  }
}

/**
 * The last 90 days, an hour of a container a row (the lake's hourly table: deduplicated, in
 * Parquet, lake-hourly.ts), with what the visuals count. Reading the readings themselves, every
 * load scanned 90 days of gzipped JSON, past the workgroup's cutoff (lake-scan.ts).
 */
export const dataSetSql = (database: string) => `SELECT container_id, gateway_id,
       hour AS measured_at,
       temperature_max AS temperature, target_temperature, date AS day,
       over_threshold, backfilled
FROM ${database}.${HOURLY_TABLE}
WHERE date >= date_format(current_date - INTERVAL '90' DAY, '%Y-%m-%d')`;
