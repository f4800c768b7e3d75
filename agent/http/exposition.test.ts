import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { requirePythonModule } from "../../test/support/tools.js";
import { Metrics } from "../../core/metrics.js";
import { formatExposition } from "./exposition.js";
import { METRIC_CATALOGUE } from "./metric-catalogue.js";

// Needs Prometheus's Python parser (test/requirements.txt): a missing one skips with the reason
// printed, and fails under CI (test/support/tools.ts), where .ci/run installs it.
const parser = requirePythonModule("prometheus_client", "the /metrics format test");

/** Prometheus's own Python parser: each family's name, type and samples, as JSON. */
function parse(
  text: string,
): { name: string; type: string; samples: [string, Record<string, string>, number][] }[] {
  const script = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = [{"name": f.name, "type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
       for f in text_string_to_metric_families(sys.stdin.read())]
print(json.dumps(out))`;
  const run = spawnSync("python3", ["-c", script], { input: text, encoding: "utf8" });
  if (run.status !== 0)
    throw new Error(`the Prometheus parser refused the exposition:\n${run.stderr}`);
  return JSON.parse(run.stdout) as ReturnType<typeof parse>;
}

function scrape(metrics: Metrics) {
  return formatExposition({
    metrics,
    outbox: {
      alerts: 2,
      telemetry: 1500,
      held: 3,
      bytes: 600_000,
      evictedTelemetry: 7,
      evictedAlerts: 0,
      deadLettered: 1,
      droppedByException: 4,
      diskFullEvents: 0,
    },
    oldestCapturedAt: 1_000_000,
    connected: false,
    inflightRows: 0,
    unreachableDevices: 1,
    storage: { failing: true, since: 1_050_000, reason: "EIO", readingsNotStored: 5 },
    wear: { device: "179:2", bytesWritten: 123_456, lifeUsedA: 0.1, lifeUsedB: null, preEol: 1 },
    version: "0.1.0",
    now: 1_090_000,
    startedAt: 1_000_000,
  });
}

describe("/metrics", () => {
  it.skipIf(parser.skip)(
    "is valid Prometheus text format, with base units and _total counters",
    () => {
      const metrics = new Metrics();
      metrics.increment("readings_captured", 120);
      metrics.increment("modbus_errors", 3, { bus: "/dev/ttyUSB0", unit: "1", class: "crc" });
      metrics.increment("modbus_errors", 1, { bus: "/dev/ttyUSB0", unit: "2", class: "timeout" });
      metrics.increment("read_errors", 2, { container: 'C"1' });
      metrics.set("reconnect_delay_ms", 2500);
      metrics.observe("publish_ack_seconds", 0.004);
      metrics.observe("publish_ack_seconds", 0.3);
      metrics.observe("publish_ack_seconds", 45);
      const families = new Map(parse(scrape(metrics)).map((f) => [f.name, f]));

      const value = (family: string, sample: string, labels: Record<string, string> = {}) =>
        families
          .get(family)
          ?.samples.find(
            ([n, l]) => n === sample && Object.entries(labels).every(([k, v]) => l[k] === v),
          )?.[2];
      // The parser drops _total from a counter family's name, and keeps it on the sample.
      expect(families.get("reefer_edge_readings_captured")?.type).toBe("counter");
      expect(value("reefer_edge_readings_captured", "reefer_edge_readings_captured_total")).toBe(
        120,
      );
      expect(
        value("reefer_edge_modbus_errors", "reefer_edge_modbus_errors_total", {
          unit: "1",
          class: "crc",
        }),
      ).toBe(3);
      expect(
        value("reefer_edge_reconnect_delay_seconds", "reefer_edge_reconnect_delay_seconds"),
      ).toBe(2.5);
      expect(
        value("reefer_edge_outbox_rows", "reefer_edge_outbox_rows", { lane: "telemetry" }),
      ).toBe(1500);
      expect(
        value("reefer_edge_outbox_oldest_age_seconds", "reefer_edge_outbox_oldest_age_seconds"),
      ).toBe(90);
      expect(
        value("reefer_edge_outbox_evictions", "reefer_edge_outbox_evictions_total", {
          lane: "telemetry",
        }),
      ).toBe(7);
      expect(value("reefer_edge_build_info", "reefer_edge_build_info", { version: "0.1.0" })).toBe(
        1,
      );
      // The storage: failing, and the flash's wear as the device counts it.
      expect(value("reefer_edge_storage_failing", "reefer_edge_storage_failing")).toBe(1);
      expect(
        value("reefer_edge_storage_bytes_written", "reefer_edge_storage_bytes_written_total", {
          device: "179:2",
        }),
      ).toBe(123_456);
      expect(
        value("reefer_edge_storage_life_used_ratio", "reefer_edge_storage_life_used_ratio", {
          cells: "A",
        }),
      ).toBe(0.1);
      // The histogram: cumulative buckets, +Inf equal to the count, a sum.
      expect(families.get("reefer_edge_publish_ack_seconds")?.type).toBe("histogram");
      expect(
        value("reefer_edge_publish_ack_seconds", "reefer_edge_publish_ack_seconds_bucket", {
          le: "0.005",
        }),
      ).toBe(1);
      expect(
        value("reefer_edge_publish_ack_seconds", "reefer_edge_publish_ack_seconds_bucket", {
          le: "30",
        }),
      ).toBe(2);
      expect(
        value("reefer_edge_publish_ack_seconds", "reefer_edge_publish_ack_seconds_bucket", {
          le: "+Inf",
        }),
      ).toBe(3);
      expect(
        value("reefer_edge_publish_ack_seconds", "reefer_edge_publish_ack_seconds_count"),
      ).toBe(3);
      // A label value with a quote is escaped, not broken.
      expect(families.get("reefer_edge_read_errors")?.samples).toHaveLength(1);
      for (const family of families.values())
        expect(family.name).toMatch(/^reefer_edge_[a-z0-9_]+$/);
    },
  );

  it("describes every metric the code keeps, with Prometheus names", () => {
    const used = new Set<string>();
    const scan = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) scan(path);
        else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
          for (const m of readFileSync(path, "utf8").matchAll(
            /\.(?:increment|set|observe)\(\s*"([a-z_]+)"/g,
          ))
            if (m[1]) used.add(m[1]);
        }
      }
    };
    scan("agent");
    scan("drivers");
    expect(used.size).toBeGreaterThan(25);
    const missing = [...used].filter((name) => !(name in METRIC_CATALOGUE));
    expect(missing, "metrics counted in code but not in METRIC_CATALOGUE").toEqual([]);
    for (const spec of Object.values(METRIC_CATALOGUE)) {
      if (!spec) continue;
      expect(spec.name).toMatch(
        spec.type === "counter" ? /^reefer_edge_[a-z_]+_total$/ : /^reefer_edge_[a-z_]+$/,
      );
      expect(spec.name).not.toMatch(/_ms\b|_millis/);
    }
  });
});
