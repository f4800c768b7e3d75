import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { THRESHOLDS_BEGIN, withProductThresholds } from "../../config/cloud-thresholds.js";
import { rulesSchema, SEED_THRESHOLD_C } from "../../config/rules-schema.js";
import { NUMERIC_FIELDS, BOOLEAN_FIELDS } from "../../core/record.js";

const sql = readFileSync(
  fileURLToPath(new URL("../../deploy/aws/analytics/faulty-reefers.sql", import.meta.url)),
  "utf8",
);
const defaults = rulesSchema.parse({});

/** Fast checks that the job's constants and the edge's defaults agree (Flink itself runs the file in deploy/aws/analytics/job's test). */
describe("the Flink SQL job agrees with the edge's defaults", () => {
  it("reads the same product table, window length and lateness", () => {
    // The thresholds block is the product table's (npm run config:docs writes it).
    expect(sql, "run npm run config:docs").toBe(withProductThresholds(sql));
    expect(sql).toContain(`       temperature >\n${THRESHOLDS_BEGIN}  CASE product_id\n`);
    expect(sql).toContain(`    ELSE ${SEED_THRESHOLD_C}\n`);
    expect(defaults.temperature.threshold).toBe(SEED_THRESHOLD_C);
    expect(defaults.window.seconds).toBe(60);
    // One-minute windows aligned to the epoch, closed per container by a watermark the
    // lateness behind its newest reading (the job's ContainerWindows reads these columns).
    expect(sql).toContain("FLOOR(ts TO MINUTE) AS window_start");
    expect(sql).toContain("FLOOR(ts TO MINUTE) + INTERVAL '1' MINUTE AS window_end");
    const lateness = `ts - INTERVAL '${defaults.window.allowedLatenessSeconds}' SECOND`;
    expect(sql).toContain(`${lateness} AS container_watermark`);
    expect(sql).toContain(`WATERMARK FOR ts AS ${lateness}`);
  });

  it("declares every field of the wire contract on the source table", () => {
    const ddl = sql.slice(sql.indexOf("CREATE TABLE telemetries"), sql.indexOf(") WITH"));
    for (const field of [
      ...NUMERIC_FIELDS,
      ...BOOLEAN_FIELDS,
      "container_id",
      "measurement_time",
      "seq",
      "gateway_id",
    ]) {
      expect(ddl, field).toMatch(new RegExp(`\\n  ${field}\\s+(DOUBLE|BOOLEAN|STRING|BIGINT)`));
    }
  });

  it("writes the per-container windows with the edge alert's fields", () => {
    const insert = sql.slice(sql.indexOf("INSERT INTO faulty_reefers"));
    expect(insert).toMatch(/FROM container_windows;\n$/);
    for (const column of ["readings_over", "max_temperature", "first_seq", "last_seq"])
      expect(insert).toContain(`       ${column},\n`);
  });
});
