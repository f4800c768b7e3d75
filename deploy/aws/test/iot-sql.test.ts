import { describe, expect, it } from "vitest";
import { INGEST_RULES } from "../lib/rule-table.js";
import { compileRule, substitute, topicMatches } from "../router/iot-sql.js";

const rule = (name: string) => {
  const found = INGEST_RULES.find((r) => r.name === name);
  if (!found) throw new Error(`no rule ${name}`);
  return compileRule(found);
};

describe("the local router's AWS IoT SQL", () => {
  it("compiles every rule of the table", () => {
    expect(INGEST_RULES.map((r) => compileRule(r).filter)).toEqual([
      "dt/reefer/+/+/telemetry",
      "dt/reefer/+/+/alert",
      "dt/reefer/+/+/backfill",
    ]);
  });

  it("refuses SQL outside its subset instead of misreading it", () => {
    const [first] = INGEST_RULES;
    if (!first) throw new Error("an empty rule table");
    const sql = "SELECT temperature FROM 'dt/#' WHERE temperature > 18";
    expect(() => compileRule({ ...first, sql })).toThrow(/outside the local router's subset/);
  });

  it("matches topic filters as MQTT does", () => {
    expect(topicMatches("dt/reefer/+/+/alert", "dt/reefer/gw-1/C1/alert")).toBe(true);
    expect(topicMatches("dt/reefer/+/+/alert", "dt/reefer/gw-1/C1/telemetry")).toBe(false);
    expect(topicMatches("dt/reefer/+/+/alert", "dt/reefer/gw-1/alert")).toBe(false);
    expect(topicMatches("dt/#", "dt/reefer/gw-1/C1/alert")).toBe(true);
  });

  it("takes the partition key from the topic's fourth level: the container", () => {
    expect(substitute("${topic(4)}", "dt/reefer/gw-0001/MSKU1234565/telemetry")).toBe(
      "MSKU1234565",
    );
  });

  it("unnests a backfill envelope into one record a reading, and only a v1 envelope", () => {
    const backfill = rule("reefer_backfill_to_lake");
    const readings = [{ seq: 1 }, { seq: 2 }, { seq: 3 }];
    expect(backfill.evaluate({ schema: "reefer.backfill.v1", readings })).toEqual(readings);
    expect(backfill.evaluate({ schema: "reefer.backfill.v2", readings })).toEqual([]);
    expect(backfill.evaluate("not an object")).toEqual([]);
  });

  it("passes a live reading or an alert through whole", () => {
    const reading = { container_id: "C1", seq: 4 };
    expect(rule("reefer_telemetry_to_kinesis").evaluate(reading)).toEqual([reading]);
  });
});
