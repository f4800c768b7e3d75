import { rulesSchema, reportByExceptionSchema } from "../../config/rules-schema.js";
import { simulatedDriverConfig } from "../../drivers/simulated/config.js";
import { ReeferModel } from "../../drivers/simulated/model.js";
import { normalize } from "../../agent/normalizer.js";
import { BUILTIN_PRODUCTS, type Product } from "../../agent/products.js";
import type { ReeferReading } from "../../agent/record.js";
import { RuleEngine } from "../../agent/rules/engine.js";
import { ReportByException } from "../../agent/rules/report-by-exception.js";
import { makeReading } from "../support/readings.js";
import type { BenchResult } from "./report.js";

const T0 = Date.UTC(2026, 10, 25, 12);

/**
 * Rule evaluation for 1,000 containers in one process: readings of every container, a minute
 * apart, some over the threshold, through the whole engine (windows and every stateful alert).
 * Baseline: the least any evaluation does per reading, parsing its time and comparing its
 * temperature.
 */
export function benchRules(containers: number, perContainer: number): BenchResult {
  const products = new Map<string, Product>();
  const readings: ReeferReading[] = [];
  // One string per container id, as in the agent, where every reading carries the config's.
  const ids = Array.from({ length: containers }, (_, i) => `C${i}`);
  for (const [i, id] of ids.entries()) products.set(id, BUILTIN_PRODUCTS[i % 5] as Product);
  for (let n = 0; n < perContainer; n++) {
    for (let i = 0; i < containers; i++) {
      // Mostly around the setpoint; one container in fifty has a compressor failure halfway.
      const failing = i % 50 === 0 && n > perContainer / 2;
      const temperature = failing ? 19 + (n % 5) : 4 + ((i * 7 + n * 13) % 5) / 2;
      const id = ids[i] ?? "";
      readings.push({ ...makeReading(id, T0 + n * 60_000 + i, { temperature }), seq: n + 1 });
    }
  }
  // Ticks of 1,000 readings, cut before timing; the best of three runs on a fresh engine.
  const batches: ReeferReading[][] = [];
  for (let i = 0; i < readings.length; i += 1000) batches.push(readings.slice(i, i + 1000));
  let seconds = Number.POSITIVE_INFINITY;
  let alerts = 0;
  for (let run = 0; run < 3; run++) {
    const engine = new RuleEngine({
      gatewayId: "gw",
      rules: rulesSchema.parse({}),
      containers: products,
    });
    alerts = 0;
    const start = process.hrtime.bigint();
    for (const batch of batches) alerts += engine.evaluate(batch).length;
    seconds = Math.min(seconds, Number(process.hrtime.bigint() - start) / 1e9);
  }

  const baseStart = process.hrtime.bigint();
  let over = 0;
  for (const r of readings)
    if (Date.parse(r.measurement_time) > 0 && (r.temperature ?? 0) > 18) over++;
  const baseSeconds = Number(process.hrtime.bigint() - baseStart) / 1e9;

  return {
    name: `rule evaluation, ${containers.toLocaleString("en-US")} containers × ${perContainer} readings`,
    unit: "readings/s",
    value: readings.length / seconds,
    baselineName: "parse time + compare only",
    baseline: readings.length / baseSeconds,
    target: "> 1,000,000 readings/s",
    note: `${alerts.toLocaleString("en-US")} alerts, ${over.toLocaleString("en-US")} readings over 18 °C; ${readings.length / seconds > 1e6 ? "target met" : "TARGET NOT MET"}`,
  };
}

/**
 * Bytes published in an hour of model time by a stable reefer sampled every 10 s, with report
 * by exception (default deadbands, at least every 15 minutes) against without.
 */
export function benchReportByException(): BenchResult {
  const product = BUILTIN_PRODUCTS[1] as Product;
  const config = simulatedDriverConfig.parse({ type: "simulated", seed: 7 });
  const model = new ReeferModel({
    ...config,
    setpoint: product.targetTemperature,
    targetHumidity: product.targetHumidity,
  });
  const engine = new RuleEngine({
    gatewayId: "gw",
    rules: rulesSchema.parse({}),
    containers: new Map([["C1", product]]),
  });
  const rbe = new ReportByException(new Map([["C1", reportByExceptionSchema.parse({})]]));
  const identity = {
    gatewayId: "gw-0001",
    bootId: "00000000-0000-4000-8000-000000000000",
    containerId: "C1",
    productId: product.id,
  };
  let all = 0;
  let sent = 0;
  const hours = 24;
  for (let s = 0, seq = 1; s < hours * 3600; s += 10, seq++) {
    model.advance(10);
    const now = T0 + s * 1000;
    const { reading } = normalize(model.sample(), identity, {
      now: () => now,
      monotonic: () => now,
    });
    const record = { ...reading, seq };
    const bytes = Buffer.byteLength(JSON.stringify(record));
    all += bytes;
    if (rbe.decide(record, now, engine.isNoteworthy("C1", now))) sent += bytes;
    engine.evaluate([record]);
  }
  return {
    name: "bytes published per hour, stable reefer at 10 s sampling, report by exception",
    unit: "bytes/h",
    value: sent / hours,
    baselineName: "every reading",
    baseline: all / hours,
    target: "a fraction of every reading",
    lowerIsBetter: true,
    note: `averaged over ${hours} h of model time, defrost cycles and door openings included`,
  };
}
