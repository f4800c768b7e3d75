import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { rulesSchema, SEED_THRESHOLD_C } from "../../config/rules-schema.js";
import { NUMERIC_FIELDS, BOOLEAN_FIELDS } from "../../core/record.js";

const sql = readFileSync(
  fileURLToPath(new URL("../../deploy/aws/analytics/faulty-reefers.sql", import.meta.url)),
  "utf8",
);
const defaults = rulesSchema.parse({});

/** Fast checks that the job's constants and the edge's defaults agree (Flink itself runs the file in deploy/aws/analytics/job's test). */
describe("the Flink SQL job agrees with the edge's defaults", () => {
  it("uses the same threshold, window length and lateness", () => {
    expect(sql).toMatch(new RegExp(`WHERE temperature > ${SEED_THRESHOLD_C}\\n`));
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
