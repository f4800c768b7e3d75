import { join } from "node:path";

import { pino } from "pino";

import { Agent } from "../../agent/agent.js";
import { validateConfig } from "../../config/load.js";
import type { BenchResult } from "./report.js";

/**
 * The audit log's share of the gateway's capture CPU: a real agent (simulated reefers, edge
 * rules, the outbox on the disk, offline so that publishing is left out) sampling 4 containers,
 * a gateway's load, at 10 Hz (the fastest the config allows), with the log and without, in
 * alternating blocks so that a busy machine weighs on both alike. Process CPU, not wall time,
 * per reading captured, after each block's warm-up.
 */
export async function benchAgentCapture(
  dir: string,
  readingsPerBlock: number,
): Promise<BenchResult> {
  const spent = { logged: 0, plain: 0 };
  const counted = { logged: 0, plain: 0 };
  for (let block = 0; block < 3; block++) {
    for (const which of ["logged", "plain"] as const) {
      const { cpuMs, readings } = await captureBlock(
        join(dir, `agent-capture-${which}-${block}`),
        which === "logged",
        readingsPerBlock,
      );
      spent[which] += cpuMs;
      counted[which] += readings;
    }
  }
  const perReading = (which: "logged" | "plain") => (spent[which] * 1000) / counted[which];
  return {
    name: "agent capture CPU per reading with the audit log (4 simulated containers at 10 Hz, rules, outbox on the disk)",
    unit: "µs",
    value: perReading("logged"),
    baselineName: "the same agent without the log",
    baseline: perReading("plain"),
    target: "≤ 1.05× (5 % of capture CPU)",
    targetValue: perReading("plain") * 1.05,
    lowerIsBetter: true,
  };
}

async function captureBlock(dir: string, audit: boolean, readings: number) {
  const config = validateConfig(
    {
      version: 1,
      gateway: { id: "gw-bench-capture" },
      // Offline (nothing listens on port 9): the capture path alone, as at sea.
      mqtt: {
        url: "mqtt://127.0.0.1:9",
        reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
      },
      buffer: { path: join(dir, "outbox.db") },
      sampling: { intervalMs: 100 },
      containers: Array.from({ length: 4 }, (_, i) => ({
        id: `C${String(i + 1).padStart(2, "0")}`,
        product: `P0${(i % 5) + 1}`,
        driver: { type: "simulated", seed: i + 1 },
      })),
      health: { enabled: false },
      audit: { enabled: audit },
    },
    "bench:agent-capture",
  );
  const agent = new Agent(config, { logger: pino({ level: "silent" }) });
  let captured = 0;
  let began: NodeJS.CpuUsage | null = null;
  let from = 0;
  const done = new Promise<{ cpuMs: number; readings: number }>((resolve) => {
    agent.events.on("captured", (batch) => {
      captured += batch.length;
      // A warm-up of 100 readings: the start's own work (a new database, the key) left out.
      if (began === null && captured >= 100) {
        began = process.cpuUsage();
        from = captured;
      } else if (began !== null && captured - from >= readings) {
        const used = process.cpuUsage(began);
        resolve({ cpuMs: (used.user + used.system) / 1000, readings: captured - from });
      }
    });
  });
  agent.start();
  const result = await done;
  await agent.stop();
  return result;
}
