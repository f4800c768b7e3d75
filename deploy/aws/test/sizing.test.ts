import { App } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { FEATURE_FLAGS, telemetriesPlan } from "../bin/app.js";
import { describeSizing, monthlyCost, sizeTelemetries } from "../lib/sizing.js";

const plan = (context: Record<string, string>) =>
  telemetriesPlan(new App({ context: { ...FEATURE_FLAGS, ...context } }));

describe("sizing the telemetries stream from the fleet's numbers", () => {
  it("gives 10,000 reefers at 1 Hz 17 shards: 70 % over their 10,000 records/s, not on-demand's 4,000", () => {
    const { sizing, capacity, onDemand } = plan({ containers: "10000", intervalSeconds: "1" });
    expect(sizing).toMatchObject({ readingsPerSecond: 10_000, shardsByRecords: 17, shards: 17 });
    // 7 MB/s of 700-byte readings fit 12 shards by bytes: records decide.
    expect(sizing.shardsByBytes).toBe(12);
    expect(capacity).toEqual({ shards: 17 });
    expect(onDemand).toBe(false);
    expect(plan({ readingsPerSecond: "10000" }).capacity).toEqual({ shards: 17 });
  });

  it("gives the default fleet (10,000 at a reading a minute) one shard", () => {
    expect(plan({}).capacity).toEqual({ shards: 1 });
    expect(plan({}).sizing.readingsPerSecond).toBeCloseTo(166.7, 1);
  });

  it("lets the shards be set outright, or on-demand by choice", () => {
    expect(
      plan({ containers: "10000", intervalSeconds: "1", telemetriesShards: "24" }).capacity,
    ).toEqual({ shards: 24 });
    expect(plan({ telemetriesOnDemand: "true" }).capacity).toEqual({ mode: "on-demand" });
  });

  it("refuses a load that is not a number, naming the context key", () => {
    expect(() => plan({ containers: "ten thousand" })).toThrow(
      "-c containers=ten thousand: a positive number is needed",
    );
    expect(() => sizeTelemetries({ containers: 0, intervalSeconds: 1, recordBytes: 700 })).toThrow(
      /positive/,
    );
  });

  it("prints the computation and the month's cost at list prices", () => {
    const load = { containers: 10_000, intervalSeconds: 1, recordBytes: 700 };
    const sizing = sizeTelemetries(load);
    const cost = monthlyCost(load, sizing);
    // 26.28 billion messages a month: IoT Core's messaging and rules dominate.
    expect(cost.iot).toBeGreaterThan(cost.kinesis);
    expect(cost.total).toBeCloseTo(cost.iot + cost.kinesis + cost.firehose, 6);
    // 17 shards × 730 h × ($0.015 + $0.02 extended retention) = $434, plus the PUT units.
    expect(cost.kinesis).toBeCloseTo(17 * 730 * 0.035 + 26_280 * 0.014, 0);
    const text = describeSizing(load, sizing, false);
    expect(text).toContain("10,000 readings/s");
    expect(text).toContain("17 shards by records, 12 by bytes");
    expect(text).toContain("provisioned: 17 shards");
    expect(text).toMatch(/IoT Core \$[\d,]+, Kinesis \$[\d,]+, Firehose \$[\d,]+; \$[\d,]+ in all/);
    expect(text).toContain("-c basicIngest=true would save their messaging, $26,280 a month");
  });

  it("leaves out the messaging charge of readings sent by Basic Ingest (-c basicIngest=true)", () => {
    const load = { containers: 10_000, intervalSeconds: 1, recordBytes: 700 };
    const sizing = sizeTelemetries(load);
    // 26,280 million messages of one 5 KB step at $1 a million; rules and actions stay.
    expect(monthlyCost(load, sizing).iot - monthlyCost(load, sizing, true).iot).toBeCloseTo(
      26_280,
      6,
    );
    expect(monthlyCost(load, sizing, true).iot).toBeCloseTo(
      26_280 * (0.15 + 0.15) + ((10_000 * 730 * 3600) / 60 / 1e6) * 0.08,
      6,
    );
    expect(plan({ basicIngest: "true" }).basicIngest).toBe(true);
    expect(plan({}).basicIngest).toBe(false);
    expect(describeSizing(load, sizing, false, true)).toContain(
      "readings by Basic Ingest: no messaging charge ($26,280 a month less)",
    );
  });
});
