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
      "dt/reefer/+/+/alert",
      "dt/reefer/+/+/telemetry",
      "dt/reefer/+/+/alert",
      "dt/reefer/+/audit",
      "dt/reefer/+/audit",
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
    const topic = "dt/reefer/gw-1/C1/backfill";
    expect(backfill.evaluate({ schema: "reefer.backfill.v1", readings }, topic)).toEqual(readings);
    expect(backfill.evaluate({ schema: "reefer.backfill.v2", readings }, topic)).toEqual([]);
    expect(backfill.evaluate("not an object", topic)).toEqual([]);
  });

  it("passes a live reading or an alert through whole", () => {
    const reading = { gateway_id: "gw-1", container_id: "C1", seq: 4 };
    expect(rule("reefer_telemetry_to_kinesis").evaluate(reading, TELEMETRY)).toEqual([reading]);
    expect(rule("reefer_telemetry_quarantine").evaluate(reading, TELEMETRY)).toEqual([]);
    const alert = { schema: "reefer.alert.v1", gateway_id: "gw-1", container_id: "C1" };
    expect(rule("reefer_alerts_to_kinesis").evaluate(alert, ALERT)).toEqual([alert]);
    expect(rule("reefer_alerts_quarantine").evaluate(alert, ALERT)).toEqual([]);
  });

  const TELEMETRY = "dt/reefer/gw-1/C1/telemetry";
  const ALERT = "dt/reefer/gw-1/C1/alert";

  it.each([
    ["another gateway's id", { gateway_id: "gw-2", container_id: "C1" }],
    ["another container's id", { gateway_id: "gw-1", container_id: "C2" }],
    ["no container id", { gateway_id: "gw-1" }],
    ["a container id that is not a string", { gateway_id: "gw-1", container_id: 7 }],
    ["no JSON object at all", "not json"],
  ])("turns away telemetry with %s, into the quarantine and nowhere else", (_, payload) => {
    expect(rule("reefer_telemetry_to_kinesis").evaluate(payload, TELEMETRY)).toEqual([]);
    expect(rule("reefer_telemetry_quarantine").evaluate(payload, TELEMETRY)).toEqual([payload]);
  });

  it.each([
    ["the cloud's source", { source: "cloud" }],
    ["any source at all", { source: "edge" }],
    ["no schema", { schema: undefined }],
    ["another schema", { schema: "reefer.alert.v2" }],
    ["another container's id", { container_id: "C9" }],
    ["another gateway's id", { gateway_id: "gw-9" }],
  ])("turns away an alert with %s, into the quarantine and nowhere else", (_, change) => {
    const alert = { schema: "reefer.alert.v1", gateway_id: "gw-1", container_id: "C1", ...change };
    expect(rule("reefer_alerts_to_kinesis").evaluate(alert, ALERT)).toEqual([]);
    expect(rule("reefer_alerts_to_ledger").evaluate(alert, ALERT)).toEqual([]);
    expect(rule("reefer_alerts_quarantine").evaluate(alert, ALERT)).toEqual([alert]);
  });

  it("routes every message to exactly one of a door and its quarantine, Undefined included", () => {
    const pairs = [
      ["reefer_telemetry_to_kinesis", "reefer_telemetry_quarantine", TELEMETRY],
      ["reefer_alerts_to_kinesis", "reefer_alerts_quarantine", ALERT],
      ["reefer_alerts_to_ledger", "reefer_alerts_quarantine", ALERT],
      ["reefer_audit_to_ledger", "reefer_audit_quarantine", "dt/reefer/gw-1/audit"],
    ] as const;
    const payloads: unknown[] = [
      {},
      null,
      [],
      42,
      { gateway_id: "gw-1" },
      { container_id: "C1" },
      { schema: "reefer.alert.v1", gateway_id: "gw-1", container_id: "C1", source: null },
      { schema: "reefer.alert.v1", gateway_id: "gw-1", container_id: "C1" },
      { gateway_id: "gw-1", container_id: "C1", seq: 1 },
      { schema: "reefer.checkpoint.v1", gateway_id: "gw-1", note: "…" },
      { schema: "reefer.gap.v1", gateway_id: "gw-2", leaves: [] },
      { schema: "reefer.gap.v2", gateway_id: "gw-1", ranges: [], readings: [] },
    ];
    for (const [door, quarantine, topic] of pairs)
      for (const payload of payloads) {
        const routed =
          rule(door).evaluate(payload, topic).length +
          rule(quarantine).evaluate(payload, topic).length;
        expect(routed, `${door}: ${JSON.stringify(payload)}`).toBe(1);
      }
  });

  it("knows Undefined as AWS IoT SQL has it: a test of a missing field is neither true nor false", () => {
    const [first] = INGEST_RULES;
    if (!first) throw new Error("an empty rule table");
    const where = (clause: string) =>
      compileRule({ ...first, sql: `SELECT * FROM 'dt/#' WHERE ${clause}` });
    const topic = "dt/reefer/gw-1/C1/telemetry";
    // Undefined AND false is Undefined, not false: its complement does not keep it either way.
    expect(where("a = 'x' AND b = 'y'").evaluate({ b: "n" }, topic)).toEqual([]);
    expect(
      where("CASE a = 'x' AND b = 'y' WHEN true THEN false ELSE true END").evaluate(
        { b: "n" },
        topic,
      ),
    ).toEqual([{ b: "n" }]);
    expect(where("isUndefined(a)").evaluate({ b: 1 }, topic)).toEqual([{ b: 1 }]);
    expect(where("a = topic(3)").evaluate({ a: "gw-1" }, topic)).toEqual([{ a: "gw-1" }]);
    expect(where("a = topic(9)").evaluate({ a: "gw-1" }, topic)).toEqual([]);
  });
});
