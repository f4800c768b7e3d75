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
    expect(sql).toContain(`WHERE temperature >\n${THRESHOLDS_BEGIN}  CASE product_id\n`);
    expect(sql).toContain(`    ELSE ${SEED_THRESHOLD_C}\n`);
    expect(defaults.temperature.threshold).toBe(SEED_THRESHOLD_C);
    expect(defaults.window.seconds).toBe(60);
    expect(sql).toContain("TUMBLE(TABLE telemetries, DESCRIPTOR(ts), INTERVAL '1' MINUTE)");
    expect(sql).toContain(
      `WATERMARK FOR ts AS ts - INTERVAL '${defaults.window.allowedLatenessSeconds}' SECOND`,
    );
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

  it("groups by container and window and emits the edge alert's fields", () => {
    expect(sql).toMatch(/GROUP BY container_id, window_start, window_end;/);
    for (const column of ["readings_over", "max_temperature", "first_seq", "last_seq"])
      expect(sql).toContain(`AS ${column}`);
  });
});
