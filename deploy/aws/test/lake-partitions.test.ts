import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { PARTITION_QUERY } from "../lib/lake-stack.js";
import { requireTool } from "../../../test/support/tools.js";

/**
 * The lake's partition query run by jq 1.6 (Debian's), the engine and version Firehose's dynamic
 * partitioning uses: where each kind of reading is filed. Nothing may land outside the days the
 * table's projection reads (2026-01-01 to tomorrow).
 */
const jq = requireTool("jq", "apt-get install jq");

/** The dates jq gives for each record, in one run. */
function filed(records: unknown[]): string[] {
  const run = spawnSync(jq.path ?? "jq", ["-c", PARTITION_QUERY], {
    input: records.map((r) => JSON.stringify(r)).join("\n"),
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`jq failed: ${run.stderr}`);
  return run.stdout
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { date: string }).date);
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe.skipIf(jq.skip)("the lake's partitions (Firehose's jq 1.6)", () => {
  it("files a synced reading under its own day, and every other one under the day it arrived", () => {
    const before = day(Date.now());
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    const dates = filed([
      { measurement_time: "2026-11-25T12:00:00.123Z", clock: "synced" },
      { measurement_time: tomorrow, clock: "synced" },
      { measurement_time: "1970-01-01T00:00:05.000Z", clock: "unsynced" },
      { measurement_time: "2026-11-25T12:00:00.123Z", clock: "unsynced" },
      { measurement_time: "2099-01-01T00:00:00.000Z", clock: "synced" },
      { measurement_time: "2025-12-31T23:59:59.999Z", clock: "synced" },
      { measurement_time: "2026-02-30T00:00:00.000Z", clock: "synced" },
      { measurement_time: "2026-05-xxT00:00:00.000Z", clock: "synced" },
      { measurement_time: 1764000000000, clock: "synced" },
      { clock: "synced" },
      {},
    ]);
    const after = day(Date.now());
    expect(dates.slice(0, 2)).toEqual(["2026-11-25", tomorrow.slice(0, 10)]);
    // The rest arrived today (the day may turn during the run: either side of it).
    for (const date of dates.slice(2)) expect([before, after]).toContain(date);
  });
});
