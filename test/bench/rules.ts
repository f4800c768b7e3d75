import { rulesSchema, reportByExceptionSchema } from "../../config/rules-schema.js";
import { simulatedDriverConfig } from "../../drivers/simulated/config.js";
import { ReeferModel } from "../../drivers/simulated/model.js";
import { normalize } from "../../agent/normalizer.js";
import { BUILTIN_PRODUCTS, type Product } from "../../core/products.js";
import { withSeq, type ReeferReading } from "../../core/record.js";
import { RuleEngine } from "../../agent/rules/engine.js";
import { ReportByException } from "../../agent/rules/report-by-exception.js";
import { makeReading } from "../support/readings.js";
import type { BenchResult } from "./report.js";

const T0 = Date.UTC(2026, 10, 25, 12);

/**
 * Rule evaluation for 1,000 containers in one process: readings of every container, a minute
 * apart, some over the threshold, through the whole engine (windows and every stateful alert),
 * with the event times in epoch ms as the normalizer hands them over. Baseline: the least any
 * evaluation of the text would do per reading, parsing its time and comparing its temperature.
 */
export function benchRules(containers: number, ticks: number): BenchResult {
  const products = new Map<string, Product>();
  // One string per container id, as in the agent, where every reading carries the config's.
  const ids = Array.from({ length: containers }, (_, i) => `C${i}`);
  for (const [i, id] of ids.entries()) products.set(id, BUILTIN_PRODUCTS[i % 5] as Product);
  // Each tick's readings are built untimed, then judged while they are fresh, as in the agent,
  // where the rules see a tick right after the normalizer made it. Pre-building every reading
  // would measure cache misses over a 100 MB heap instead of the rules.
  const tick = (n: number): ReeferReading[] =>
    ids.map((id, i) => {
      // Mostly around the setpoint; one container in fifty has a compressor failure halfway.
      const failing = i % 50 === 0 && n > ticks / 2;
      const temperature = failing ? 19 + (n % 5) : 4 + ((i * 7 + n * 13) % 5) / 2;
      // As the agent makes them: field by field (normalizer), then the seq (the outbox).
      return withSeq(makeReading(id, T0 + n * 60_000 + i, { temperature }), n + 1);
    });
  const timesOf = (n: number): number[] => ids.map((_, i) => T0 + n * 60_000 + i);
  let engineNs = 0;
  let baselineNs = 0;
  let alerts = 0;
  let over = 0;
  const engine = new RuleEngine({
    gatewayId: "gw",
    rules: rulesSchema.parse({}),
    containers: products,
  });
  for (let n = 0; n < ticks; n++) {
    const readings = tick(n);
    const times = timesOf(n);
    const start = process.hrtime.bigint();
    alerts += engine.evaluate(readings, times).length;
    engineNs += Number(process.hrtime.bigint() - start);
    const baseStart = process.hrtime.bigint();
    for (const r of readings)
      if (Date.parse(r.measurement_time) > 0 && (r.temperature ?? 0) > 18) over++;
    baselineNs += Number(process.hrtime.bigint() - baseStart);
  }
  const total = containers * ticks;
  const rate = total / (engineNs / 1e9);
  return {
    name: `rule evaluation, ${containers.toLocaleString("en-US")} containers × ${ticks} ticks`,
    unit: "readings/s",
    value: rate,
    baselineName: "parse time + compare only",
    baseline: total / (baselineNs / 1e9),
    target: "> 1,000,000 readings/s",
    note: `${alerts.toLocaleString("en-US")} alerts, ${over.toLocaleString("en-US")} readings over 18 °C; ${rate > 1e6 ? "target met" : "TARGET NOT MET"}`,
  };
}

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
