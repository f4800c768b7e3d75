import Database from "better-sqlite3";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rulesSchema } from "../../config/rules-schema.js";
import { makeReading } from "../../test/support/readings.js";
import {
  edgeWindows,
  MINUTE,
  T0,
  windowStreams,
  type WindowRow,
} from "../../test/support/window-streams.js";
import { BUILTIN_PRODUCTS, thresholdCaseSql, type Product } from "../../core/products.js";
import type { ReeferReading } from "../../core/record.js";
import { RuleEngine } from "./engine.js";

const CARROTS = BUILTIN_PRODUCTS[0] as Product;

/**
 * The seed's cloud rule, written correctly (deploy/aws/analytics/faulty-reefers.sql), as SQLite runs it: per container and
 * minute, the readings strictly over their product's threshold, from the product table's CASE
 * that the cloud job holds too (18 °C unless the table names another). The reference is this
 * query, not a second copy of the edge code.
 */
const REFERENCE_SQL = `
  SELECT container_id,
         (ts / 60000) * 60000 AS window_start,
         (ts / 60000) * 60000 + 60000 AS window_end,
         COUNT(*) AS readings_over,
         MAX(temperature) AS max_temperature,
         MIN(seq) AS first_seq,
         MAX(seq) AS last_seq
  FROM telemetries
  WHERE temperature > ${thresholdCaseSql()}
  GROUP BY container_id, ts / 60000
  ORDER BY container_id, window_start`;

function reference(readings: readonly ReeferReading[]): WindowRow[] {
  const db = new Database(":memory:");
  db.exec(
    "CREATE TABLE telemetries (container_id TEXT, product_id TEXT, ts INTEGER, temperature REAL, seq INTEGER)",
  );
  const insert = db.prepare("INSERT INTO telemetries VALUES (?, ?, ?, ?, ?)");
  for (const r of readings)
    insert.run(r.container_id, r.product_id, Date.parse(r.measurement_time), r.temperature, r.seq);
  const rows = db.prepare<[], WindowRow>(REFERENCE_SQL).all();
  db.close();
  return rows;
}

const edge = edgeWindows;
const streams = windowStreams;

describe("the edge's windowed rule agrees with the cloud's SQL", () => {
  it("for random streams: same windows, counts, maxima and seq ranges", () => {
    fc.assert(
      fc.property(streams, (arrivals) => {
        expect(edge(arrivals)).toEqual(reference(arrivals));
      }),
      { numRuns: 300 },
    );
  });

  it("at the boundaries: 18.0 is not over, a reading at :00.000 opens the next window", () => {
    const readings = [
      { ...makeReading("A", T0 + MINUTE - 1, { temperature: 18.5 }), seq: 1 },
      { ...makeReading("A", T0 + MINUTE, { temperature: 19 }), seq: 2 },
      { ...makeReading("A", T0 + MINUTE + 1, { temperature: 18 }), seq: 3 },
    ];
    const rows = edge(readings);
    expect(rows).toEqual(reference(readings));
    expect(rows.map((r) => [r.window_start - T0, r.readings_over, r.max_temperature])).toEqual([
      [0, 1, 18.5],
      [MINUTE, 1, 19],
    ]);
  });

  it("closes a window when the watermark reaches its last millisecond, as Flink fires it", () => {
    // Flink: a window [start, end) fires once the watermark is >= end - 1. A reading exactly
    // the lateness behind the newest, in a window's last millisecond, is therefore late.
    const engine = carrotEngine();
    const alerts = engine.evaluate([
      { ...makeReading("A", T0 + 5_000, { temperature: 20 }), seq: 1 },
      // newest = T0 + 69 999: watermark T0 + 59 999 = the first window's last millisecond
      { ...makeReading("A", T0 + MINUTE + 9_999, { temperature: 5 }), seq: 2 },
      { ...makeReading("A", T0 + MINUTE - 1, { temperature: 30 }), seq: 3 }, // late by Flink's rule
    ]);
    expect(alerts.filter((a) => a.alert_type === "temperature_window")).toMatchObject([
      { readings_over: 1, max_temperature: 20, first_seq: 1, last_seq: 1 },
    ]);
    expect(engine.lateReadings).toBe(1);
  });

  it("leaves out and counts a reading later than the allowed lateness, as the cloud drops it", () => {
    const engine = carrotEngine();
    const alerts = engine.evaluate([
      { ...makeReading("A", T0 + 5_000, { temperature: 20 }), seq: 1 },
      { ...makeReading("A", T0 + MINUTE + 20_000, { temperature: 5 }), seq: 2 }, // watermark passes T0+60 s
      { ...makeReading("A", T0 + 30_000, { temperature: 25 }), seq: 3 }, // for a closed window: late
    ]);
    expect(alerts.filter((a) => a.alert_type === "temperature_window")).toMatchObject([
      { readings_over: 1, max_temperature: 20, first_seq: 1, last_seq: 1 },
    ]);
    expect(engine.lateReadings).toBe(1);
  });
});

/** The default rules over one container "A" of carrots. */
function carrotEngine(): RuleEngine {
  return new RuleEngine({
    gatewayId: "gw",
    rules: rulesSchema.parse({}),
    containers: new Map([["A", CARROTS]]),
  });
}
