import { describe, expect, it } from "vitest";
import { configSchema } from "../../config/schema.js";
import { publishTopic } from "./topics.js";

describe("the topic a message is published on", () => {
  const rules = { telemetry: "reefer_telemetry_to_kinesis", backfill: "reefer_backfill_to_lake" };

  it("is the wire contract's, or the same behind the rule it goes to by Basic Ingest", () => {
    expect(publishTopic("gw-1", "MSKU1234565", "telemetry", undefined)).toBe(
      "dt/reefer/gw-1/MSKU1234565/telemetry",
    );
    expect(publishTopic("gw-1", "MSKU1234565", "telemetry", rules)).toBe(
      "$aws/rules/reefer_telemetry_to_kinesis/dt/reefer/gw-1/MSKU1234565/telemetry",
    );
    expect(publishTopic("gw-1", "MSKU1234565", "backfill", rules)).toBe(
      "$aws/rules/reefer_backfill_to_lake/dt/reefer/gw-1/MSKU1234565/backfill",
    );
    expect(publishTopic("gw-1", "MSKU1234565", "backfill", { telemetry: rules.telemetry })).toBe(
      "dt/reefer/gw-1/MSKU1234565/backfill",
    );
  });

  it("keeps alerts on the broker: each reaches more than one rule", () => {
    const anyRule = { ...rules, alert: "reefer_alerts_to_kinesis" } as typeof rules;
    expect(publishTopic("gw-1", "MSKU1234565", "alert", anyRule)).toBe(
      "dt/reefer/gw-1/MSKU1234565/alert",
    );
  });

  it("refuses, by name, a rule name IoT Core would not take and a Basic Ingest for alerts", () => {
    const config = (basicIngest: unknown) =>
      configSchema.safeParse({
        version: 1,
        gateway: { id: "gw-1" },
        mqtt: { url: "mqtt://127.0.0.1:1883" },
        publish: { basicIngest },
        containers: [{ id: "MSKU1234565", product: "P02", driver: { type: "simulated" } }],
      });
    expect(config(rules).success).toBe(true);
    const badName = config({ telemetry: "reefer-telemetry" });
    expect(badName.error?.issues[0]?.path).toEqual(["publish", "basicIngest", "telemetry"]);
    expect(badName.error?.issues[0]?.message).toContain("an AWS IoT rule name");
    const alerts = config({ alert: "reefer_alerts_to_kinesis" });
    expect(alerts.error?.issues[0]?.path).toEqual(["publish", "basicIngest"]);
  });
});
