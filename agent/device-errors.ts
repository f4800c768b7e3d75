import type { Metrics } from "../core/metrics.js";
import type { DeviceErrorsWire } from "../dashboard/wire.js";

const KEY = /^(\w+)\{(.*)\}$/;
const LABEL = /(\w+)="([^"]*)"/g;

/**
 * Modbus requests and errors per device (bus and unit), and failed reads per container, from the
 * agent's counters: what a technician on site checks first when a container shows no data.
 */
export function deviceErrors(metrics: Metrics): {
  devices: DeviceErrorsWire[];
  readErrors: Record<string, number>;
} {
  const devices = new Map<string, { errors: number; requests: number }>();
  const readErrors: Record<string, number> = {};
  for (const [key, value] of metrics.entries().counters) {
    const match = KEY.exec(key);
    if (!match) continue;
    const [, name, body = ""] = match;
    if (name !== "modbus_requests" && name !== "modbus_errors" && name !== "read_errors") continue;
    const labels = new Map<string, string>();
    for (const m of body.matchAll(LABEL)) labels.set(m[1] ?? "", m[2] ?? "");
    if (name === "read_errors") {
      const container = labels.get("container") ?? "?";
      readErrors[container] = (readErrors[container] ?? 0) + value;
      continue;
    }
    const device = `${labels.get("bus") ?? "?"} unit ${labels.get("unit") ?? "?"}`;
    const entry = devices.get(device) ?? { errors: 0, requests: 0 };
    if (name === "modbus_errors") entry.errors += value;
    else entry.requests += value;
    devices.set(device, entry);
  }
  return {
    devices: [...devices]
      .map(([device, counts]) => ({ device, ...counts }))
      .sort((a, b) => a.device.localeCompare(b.device)),
    readErrors,
  };
}
