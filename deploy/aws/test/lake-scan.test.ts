import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp, FEATURE_FLAGS } from "../bin/app.js";
import { READING_COLUMNS } from "../lib/lake-columns.js";
import { HOURLY_TABLE } from "../lib/lake-hourly.js";
import { scanBytes, type Column, type TableLayout } from "../lib/lake-scan.js";

/**
 * Issue #24, failure 6: every dashboard load scanned 90 days of gzipped JSON, past the Athena
 * workgroup's cutoff. Here the bytes one load scans at 10,000 containers sending a reading a
 * minute, computed from what is synthesized: the data set's query, the Glue table it reads and
 * that table's format, the workgroup's cutoff.
 */
const CONTAINERS = 10_000;
const READINGS_PER_DAY = 24 * 60; // one a minute
const DAYS = 90;

/** Readings as the lake holds them (the wire contract's fields and the audit log's), varied. */
function readingsSample(n: number): Record<string, unknown>[] {
  const at = Date.UTC(2026, 11, 1);
  return Array.from({ length: n }, (_, i) => {
    const row: Record<string, unknown> = {};
    for (const { name, type } of READING_COLUMNS) {
      if (type === "double") row[name] = Math.round(Math.random() * 2000) / 10;
      else if (type === "boolean") row[name] = Math.random() < 0.5;
      else if (type === "bigint") row[name] = 100_000 + i;
      else row[name] = "";
    }
    const container = 1_000_000 + (i % 500);
    Object.assign(row, {
      container_id: `MSKU${container}`,
      gateway_id: `gw-${container}`,
      product_id: `P0${(i % 5) + 1}`,
      boot_id: randomUUID(),
      measurement_time: new Date(at + i * 60_000).toISOString(),
      clock: "synced",
      log_id: "3f9a0c1e",
      log_index: 2_000_000 + i,
    });
    return row;
  });
}

describe("what one dashboard load scans at 10,000 containers", () => {
  let dataSetSql = "";
  let tables: Map<string, { format: "json" | "parquet"; columns: Column[] }>;
  let cutoff = 0;

  beforeAll(() => {
    const app = buildApp(
      new App({
        outdir: mkdtempSync(join(tmpdir(), "reefer-cdk-scan-")),
        context: {
          ...FEATURE_FLAGS,
          quicksightPrincipal: "arn:aws:quicksight:eu-west-1:123456789012:user/default/ops",
        },
      }),
    );
    const template = (id: string) => Template.fromStack(Stack.of(app.node.findChild(id)));
    const dataSet = Object.values(
      template("ReeferDashboard").findResources("AWS::QuickSight::DataSet"),
    )[0]?.Properties as {
      PhysicalTableMap: Record<string, { CustomSql: { SqlQuery: string } }>;
    };
    dataSetSql = Object.values(dataSet.PhysicalTableMap)[0]?.CustomSql.SqlQuery ?? "";
    const lake = template("ReeferLake");
    tables = new Map(
      Object.values(lake.findResources("AWS::Glue::Table")).map((t) => {
        const input = (
          t.Properties as {
            TableInput: {
              Name: string;
              StorageDescriptor: { InputFormat: string; Columns: { Name: string; Type: string }[] };
            };
          }
        ).TableInput;
        const format = input.StorageDescriptor.InputFormat.includes("Parquet") ? "parquet" : "json";
        const columns = input.StorageDescriptor.Columns.map((c) => ({
          name: c.Name,
          type: c.Type,
        }));
        return [input.Name, { format, columns }] as const;
      }),
    );
    const workGroup = Object.values(lake.findResources("AWS::Athena::WorkGroup"))[0]
      ?.Properties as { WorkGroupConfiguration: { BytesScannedCutoffPerQuery: number } };
    cutoff = workGroup.WorkGroupConfiguration.BytesScannedCutoffPerQuery;
  }, 120_000);

  const layout = (name: string): TableLayout => {
    const table = tables.get(name);
    if (!table) throw new Error(`no Glue table ${name} in the Lake stack`);
    return {
      name,
      ...table,
      rowsPerDay: CONTAINERS * (name === HOURLY_TABLE ? 24 : READINGS_PER_DAY),
    };
  };
  const sampleFor = (name: string) =>
    name === HOURLY_TABLE
      ? [{ container_id: "MSKU1000001", gateway_id: "gw-1000001", product_id: "P01" }]
      : readingsSample(2000);

  it("stays under the workgroup's cutoff, reading the hourly table's Parquet", () => {
    const from = /FROM\s+\w+\.(\w+)/.exec(dataSetSql)?.[1] ?? "";
    const estimate = scanBytes(dataSetSql, layout(from), DAYS, sampleFor(from));
    console.log(
      `a dashboard load: ${(estimate.bytes / 2 ** 30).toFixed(2)} GiB of ${estimate.table} ` +
        `(${estimate.how}); the cutoff ${(cutoff / 2 ** 30).toFixed(0)} GiB`,
    );
    expect(from).toBe(HOURLY_TABLE);
    expect(estimate.bytes).toBeLessThan(cutoff);
  });

  it("would not, reading the readings as the data set did before (the check bites)", () => {
    const before = `SELECT container_id, gateway_id, measurement_time, temperature, target_temperature
FROM reefer_lake.readings WHERE date >= date_format(current_date - INTERVAL '90' DAY, '%Y-%m-%d')`;
    const estimate = scanBytes(before, layout("readings"), DAYS, sampleFor("readings"));
    console.log(
      `the same over the readings: ${(estimate.bytes / 2 ** 30).toFixed(1)} GiB (${estimate.how})`,
    );
    expect(estimate.bytes).toBeGreaterThan(cutoff);
  });
});
