import { openSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import type { GatewayStatus } from "../core/gateway-status.js";
import type { ReeferReading } from "../core/record.js";

/** `--captured-report FILE` of `run`, if given. */
export function capturedReportPath(args: string[]): string | undefined {
  const { values } = parseArgs({
    args,
    options: { "captured-report": { type: "string" } },
    strict: false,
  });
  const path = values["captured-report"];
  return typeof path === "string" ? path : undefined;
}

/**
 * Appends every reading the agent reports durably captured to `path`, one JSON line each, as
 * the outbox says it: written before the event returns, so what a power cut of the outbox's
 * disk must not lose is on record outside it (the power-cut rig's observer, test/powercut).
 * Readings held in memory (write-behind, failing storage) are written once they are stored.
 */
export function reportCaptured(agent: GatewayStatus, path: string): void {
  const fd = openSync(path, "a");
  const write = (readings: readonly ReeferReading[]) =>
    writeSync(fd, readings.map((r) => JSON.stringify(r) + "\n").join(""));
  agent.events.on("captured", (readings, durable) => {
    if (durable) write(readings);
  });
  // Held in memory first (write-behind, failing storage), durable now.
  agent.events.on("stored", write);
}
