import Database from "better-sqlite3";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rulesSchema } from "../../config/rules-schema.js";
import { makeReading } from "../../test/support/readings.js";
import { BUILTIN_PRODUCTS, type Product } from "../products.js";
import type { ReeferReading } from "../record.js";
import type { WindowAlert } from "./alerts.js";
import { RuleEngine } from "./engine.js";

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const LATENESS_S = 10;
const CARROTS = BUILTIN_PRODUCTS[0] as Product;

/**
 * The seed's cloud rule, written correctly (deploy/aws/analytics/faulty-reefers.sql), as SQLite runs it: per container and
 * minute, the readings strictly over 18 °C. The reference is this query, not a second copy of
 * the edge code.
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
  WHERE temperature > 18
  GROUP BY container_id, ts / 60000
  ORDER BY container_id, window_start`;

interface Row {
  container_id: string;
  window_start: number;
  window_end: number;
  readings_over: number;
  max_temperature: number;
  first_seq: number;
  last_seq: number;
}

function reference(readings: readonly ReeferReading[]): Row[] {
  const db = new Database(":memory:");
  db.exec(
    "CREATE TABLE telemetries (container_id TEXT, ts INTEGER, temperature REAL, seq INTEGER)",
  );
  const insert = db.prepare("INSERT INTO telemetries VALUES (?, ?, ?, ?)");
  for (const r of readings)
    insert.run(r.container_id, Date.parse(r.measurement_time), r.temperature, r.seq);
  const rows = db.prepare<[], Row>(REFERENCE_SQL).all();
  db.close();
  return rows;
}

function edge(arrivals: readonly ReeferReading[]): Row[] {
  const engine = new RuleEngine({
    gatewayId: "gw",
    rules: rulesSchema.parse({ window: { seconds: 60, allowedLatenessSeconds: LATENESS_S } }),
    containers: new Map(["A", "B", "C"].map((id) => [id, CARROTS])),
  });
  const alerts = [...engine.evaluate(arrivals), ...engine.flush()];
  expect(engine.lateReadings).toBe(0);
  return alerts
    .filter((a): a is WindowAlert => a.alert_type === "temperature_window")
    .map((a) => ({
      container_id: a.container_id,
      window_start: Date.parse(a.window_start),
      window_end: Date.parse(a.window_end),
      readings_over: a.readings_over,
      max_temperature: a.max_temperature,
      first_seq: a.first_seq,
      last_seq: a.last_seq,
    }))
    .sort(
      (a, b) => a.container_id.localeCompare(b.container_id) || a.window_start - b.window_start,
    );
}

/** Temperatures that test the edge of the rule: exactly 18, just around it, nulls, and others. */
const temperature = fc.oneof(
  fc.constantFrom(18, 18.0, 17.99, 18.01, 17.9, 18.1, null),
  fc.double({ min: -30, max: 45, noNaN: true }).map((v) => Math.round(v * 100) / 100),
);
/** Event times that favour window edges (…:00.000, …:59.999) over a few minutes. */
const offset = fc.oneof(
  fc
    .integer({ min: 0, max: 5 })
    .chain((m) => fc.constantFrom(m * MINUTE, m * MINUTE - 1, m * MINUTE + 1)),
  fc.integer({ min: 0, max: 6 * MINUTE }),
);

/**
 * Streams of readings of three containers, each container's readings in seq order with event
 * times ascending, then interleaved, then disordered within the allowed lateness (a reading
 * may arrive after others up to LATENESS_S newer than it).
 */
const streams = fc
  .array(
    fc.record({
      container: fc.constantFrom("A", "B", "C"),
      t: offset,
      temperature,
      jitter: fc.integer({ min: 0, max: LATENESS_S * 1000 }),
    }),
    {
      maxLength: 200,
    },
  )
  .map((draws) => {
    const seqs = new Map<string, number>();
    const readings = [...draws]
      .sort((a, b) => a.t - b.t)
      .map((d) => {
        const seq = (seqs.get(d.container) ?? 0) + 1;
        seqs.set(d.container, seq);
        const r: ReeferReading = {
          ...makeReading(d.container, T0 + d.t, { temperature: d.temperature }),
          seq,
        };
        return { r, arrival: d.t + d.jitter };
      });
    // Arrival order: by event time plus a delay within the lateness, so out-of-order but never late.
    return readings.sort((a, b) => a.arrival - b.arrival).map((x) => x.r);
  });

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

  it("leaves out and counts a reading later than the allowed lateness, as the cloud drops it", () => {
    const engine = new RuleEngine({
      gatewayId: "gw",
      rules: rulesSchema.parse({}),
      containers: new Map([["A", CARROTS]]),
    });
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
