import fc from "fast-check";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rulesSchema } from "../../config/rules-schema.js";
import { BUILTIN_PRODUCTS, type Product } from "../../core/products.js";
import type { ReeferReading } from "../../core/record.js";
import type { WindowAlert } from "../../core/alerts.js";
import { RuleEngine } from "../../agent/rules/engine.js";
import { makeReading } from "./readings.js";

/**
 * Streams of readings for the windowed rule, and the windows the edge raises for them: shared by
 * the edge's agreement test (against the seed rule run as SQL) and the cloud job's own test (the
 * same SQL in a Flink mini cluster, deploy/aws/analytics/job), so both compare with the same
 * edge on the same streams.
 */
export const MINUTE = 60_000;
export const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
export const LATENESS_S = 10;
/**
 * The containers of the streams and their products: A and C at the default threshold (18 °C),
 * B carrying a product the table gives its own (vaccines, 8 °C), so that edge and cloud must
 * read the same product table to agree.
 */
const PRODUCT_OF: ReadonlyMap<string, Product> = new Map(
  (
    [
      ["A", "P01"],
      ["B", "P06"],
      ["C", "P02"],
    ] as const
  ).map(([container, id]) => {
    const product = BUILTIN_PRODUCTS.find((p) => p.id === id);
    if (!product) throw new Error(`no built-in product ${id}`);
    return [container, product];
  }),
);

/** A reading of `container` at `at`, with its product's id. */
function streamReading(container: string, at: number, temperature: number | null) {
  return makeReading(container, at, {
    temperature,
    product_id: PRODUCT_OF.get(container)?.id ?? "P01",
  });
}

/** One window as both sides report it (times in ms since the epoch). */
export interface WindowRow {
  container_id: string;
  window_start: number;
  window_end: number;
  readings_over: number;
  max_temperature: number;
  first_seq: number;
  last_seq: number;
}

/**
 * The windows the edge's rule engine raises for readings in this arrival order, and how many
 * readings it left out as late. Unless `lateAllowed`, a late reading is an error: the
 * three-container streams are meant to be out of order but on time.
 */
export function edgeWindows(arrivals: readonly ReeferReading[]): WindowRow[];
export function edgeWindows(
  arrivals: readonly ReeferReading[],
  lateAllowed: true,
  latenessS?: number,
): { windows: WindowRow[]; late: number };
export function edgeWindows(
  arrivals: readonly ReeferReading[],
  lateAllowed = false,
  latenessS = LATENESS_S,
): WindowRow[] | { windows: WindowRow[]; late: number } {
  const engine = new RuleEngine({
    gatewayId: "gw",
    rules: rulesSchema.parse({ window: { seconds: 60, allowedLatenessSeconds: latenessS } }),
    containers: PRODUCT_OF,
  });
  const alerts = [...engine.evaluate(arrivals), ...engine.flush()];
  if (!lateAllowed && engine.lateReadings !== 0)
    throw new Error("a generated stream had a late reading");
  const windows = alerts
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
  return lateAllowed ? { windows, late: engine.lateReadings } : windows;
}

/**
 * Temperatures that test the edges of the rule: exactly 18 and 8 (vaccines), just around them,
 * nulls, and others.
 */
const temperature = fc.oneof(
  fc.constantFrom(18, 18.0, 17.99, 18.01, 17.9, 18.1, null),
  fc.constantFrom(8, 7.99, 8.01, 7.9, 8.1),
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
export const windowStreams = fc
  .array(
    fc.record({
      container: fc.constantFrom("A", "B", "C"),
      t: offset,
      temperature,
      // Strictly within the lateness: a reading a full LATENESS_S behind the newest, in its
      // window's last millisecond, is late (the window fires at end - 1, as in Flink).
      jitter: fc.integer({ min: 0, max: LATENESS_S * 1000 - 1 }),
    }),
    { maxLength: 200 },
  )
  .map((draws) => {
    const seqs = new Map<string, number>();
    const readings = [...draws]
      .sort((a, b) => a.t - b.t)
      .map((d) => {
        const seq = (seqs.get(d.container) ?? 0) + 1;
        seqs.set(d.container, seq);
        const r: ReeferReading = { ...streamReading(d.container, T0 + d.t, d.temperature), seq };
        return { r, arrival: d.t + d.jitter };
      });
    // Arrival order: by event time plus a delay within the lateness, so out-of-order but never late.
    return readings.sort((a, b) => a.arrival - b.arrival).map((x) => x.r);
  });

/**
 * Streams of one container whose readings may arrive up to twice the allowed lateness behind
 * the newest: some are late. One container, because what is late depends on whose watermark:
 * the edge keeps one per container, Flink one per source split (a shard of many containers);
 * for a single container they are the same watermark.
 */
export const lateWindowStreams = fc
  .array(
    fc.record({
      // Dense (three minutes): a delayed reading has newer ones ahead of it to be late behind.
      t: fc.oneof(
        fc.integer({ min: 1, max: 3 }).map((m) => m * MINUTE - 1),
        fc.integer({ min: 0, max: 3 * MINUTE }),
      ),
      temperature,
      delay: fc.integer({ min: 0, max: 2 * LATENESS_S * 1000 }),
    }),
    { minLength: 40, maxLength: 120 },
  )
  .map((draws) =>
    [...draws]
      .sort((a, b) => a.t - b.t)
      .map((d, i) => ({
        r: { ...streamReading("A", T0 + d.t, d.temperature), seq: i + 1 },
        arrival: d.t + d.delay,
      }))
      .sort((a, b) => a.arrival - b.arrival)
      .map((x) => x.r as ReeferReading),
  );

/**
 * Streams of two containers whose readings reach the stream at different delays: B's arrive
 * `lagMs` behind A's (a slow link, a gateway on a satellite hop), far more than the allowed
 * lateness. Each container's own readings are on time, so the edge (one watermark per container)
 * leaves none out; a job with one watermark for the whole shard, driven by A's newest reading,
 * would drop B's as late. B carries the product with its own threshold (8 °C).
 */
export const behindStreams = fc
  .record({
    // At least twice the lateness, at most four minutes: the job's quiet-container flush waits
    // five minutes of the shard's time past a window before closing it without its container.
    lagMs: fc.integer({ min: 2 * LATENESS_S * 1000, max: 4 * MINUTE }),
    draws: fc.array(
      fc.record({
        container: fc.constantFrom("A", "B"),
        t: offset,
        temperature,
        jitter: fc.integer({ min: 0, max: LATENESS_S * 1000 - 1 }),
      }),
      { minLength: 40, maxLength: 160 },
    ),
  })
  .map(({ lagMs, draws }) => {
    const seqs = new Map<string, number>();
    return [...draws]
      .sort((a, b) => a.t - b.t)
      .map((d) => {
        const seq = (seqs.get(d.container) ?? 0) + 1;
        seqs.set(d.container, seq);
        const r: ReeferReading = { ...streamReading(d.container, T0 + d.t, d.temperature), seq };
        return { r, arrival: d.t + d.jitter + (d.container === "B" ? lagMs : 0) };
      })
      .sort((a, b) => a.arrival - b.arrival)
      .map((x) => x.r);
  });

/**
 * Writes `count` on-time streams, `count` streams with late readings and `count / 2` streams with
 * one container behind the other (seeded: the same files every run) to `dir` for the Flink job's
 * test: `<n>.readings.ndjson` in arrival order, one
 * reading a line as the telemetry rule puts them on the stream, and `<n>.edge.ndjson`, the
 * edge's windows for it. Returns how many readings the edge left out as late, and in how many
 * streams they change a window.
 */
export function writeWindowCases(
  dir: string,
  count: number,
  seed = 20261125,
): { late: number; mattering: number } {
  mkdirSync(dir, { recursive: true });
  const streams = fc.sample(windowStreams, { numRuns: count, seed });
  const lines = (rows: readonly unknown[]) => rows.map((r) => JSON.stringify(r) + "\n").join("");
  // Each reading with the time it reached the stream (`arrival`, what the job reads from
  // Kinesis's metadata), in arrival order and never before it was measured: the newest
  // measurement so far.
  const arriving = (readings: readonly ReeferReading[]) => {
    let latest = -Infinity;
    return readings.map((r) => {
      latest = Math.max(latest, Date.parse(r.measurement_time));
      return { ...r, arrival: new Date(latest).toISOString() };
    });
  };
  streams.forEach((arrivals, i) => {
    const name = String(i).padStart(3, "0");
    writeFileSync(join(dir, `${name}.readings.ndjson`), lines(arriving(arrivals)));
    writeFileSync(join(dir, `${name}.edge.ndjson`), lines(edgeWindows(arrivals)));
  });
  // And as many with late readings, which both sides must leave out alike. Some of them must
  // matter: windows that would come out otherwise if the late readings counted.
  let late = 0;
  let mattering = 0;
  fc.sample(lateWindowStreams, { numRuns: count, seed: seed + 1 }).forEach((arrivals, i) => {
    const name = `late-${String(i).padStart(3, "0")}`;
    const edge = edgeWindows(arrivals, true);
    late += edge.late;
    const counted = edgeWindows(arrivals, true, 3600).windows;
    if (JSON.stringify(counted) !== JSON.stringify(edge.windows)) mattering++;
    writeFileSync(join(dir, `${name}.readings.ndjson`), lines(arriving(arrivals)));
    writeFileSync(join(dir, `${name}.edge.ndjson`), lines(edge.windows));
  });
  if (mattering === 0)
    throw new Error("no late reading changes a window: the late streams would test nothing");
  // And half as many with one container behind the other, which the edge leaves whole.
  fc.sample(behindStreams, { numRuns: Math.ceil(count / 2), seed: seed + 2 }).forEach(
    (arrivals, i) => {
      const name = `behind-${String(i).padStart(3, "0")}`;
      writeFileSync(join(dir, `${name}.readings.ndjson`), lines(arriving(arrivals)));
      writeFileSync(join(dir, `${name}.edge.ndjson`), lines(edgeWindows(arrivals)));
    },
  );
  return { late, mattering };
}

// node dist/test/support/window-streams.js DIR [COUNT]
if (process.argv[1]?.endsWith("window-streams.js")) {
  const [dir, count = "40"] = process.argv.slice(2);
  if (!dir) throw new Error("usage: window-streams.js DIR [COUNT]");
  const { late, mattering } = writeWindowCases(dir, Number(count));
  console.log(
    `window-streams: ${count} on-time, ${count} late and ${Math.ceil(Number(count) / 2)} behind streams in ${dir}: ${late} late readings, ` +
      `which change windows in ${mattering} streams`,
  );
}
