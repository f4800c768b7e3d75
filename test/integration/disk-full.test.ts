import Database from "better-sqlite3";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiskFullError, Outbox } from "../../agent/outbox/outbox.js";
import { makeReading } from "../support/readings.js";
import { makeTempDir } from "../support/tmp.js";
import { requireRoot } from "../support/tools.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const root = requireRoot("the disk-full test (a small tmpfs)");

describe.skipIf(root.skip)("the outbox on a full disk (a 4 MiB tmpfs)", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let mnt: string;
  beforeAll(() => {
    temp = makeTempDir();
    mnt = join(temp.dir, "mnt");
    mkdirSync(mnt);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt]);
  });
  afterAll(() => {
    execFileSync("umount", [mnt]);
    temp.cleanup();
  });

  it("keeps capturing by evicting the oldest telemetry, counts it, and recovers when space returns", () => {
    let now = Date.UTC(2026, 10, 25, 12);
    // The budget is far above what the disk holds: the disk fills first.
    const box = new Outbox({
      path: join(mnt, "outbox.db"),
      maxBytes: 1 << 30,
      durability: "full",
      now: () => now,
    });
    const tick = Array.from({ length: 20 }, (_, i) => makeReading(`C${i}`));
    let lost = 0;
    for (let t = 0; t < 1500; t++) {
      now += 1000;
      try {
        box.capture(
          tick,
          t % 100 === 0 ? [{ containerId: "C0", payload: { alert_type: "x", t } }] : [],
        );
      } catch (error) {
        if (!(error instanceof DiskFullError)) throw error;
        lost += error.readings;
      }
    }
    const full = box.stats();
    expect(full.diskFullEvents).toBeGreaterThan(0);
    expect(full.evictedTelemetry).toBeGreaterThan(0);
    expect(full.alerts).toBe(15); // no alert evicted while telemetry remained
    expect(lost).toBe(0);
    const seqs = box.query<{ seq: number }>(
      "SELECT MAX(seq) AS seq FROM outbox WHERE container_id = 'C0'",
    );
    expect(seqs[0]?.seq).toBe(1500); // the newest reading is there

    // Space returns: the tmpfs grows, the minute of caution passes, the outbox grows again.
    execFileSync("mount", ["-o", "remount,size=32m", mnt]);
    now += 61_000;
    const before = box.stats();
    for (let t = 0; t < 500; t++) {
      now += 1000;
      box.capture(tick);
    }
    const after = box.stats();
    expect(after.diskFullEvents).toBe(before.diskFullEvents);
    expect(after.telemetry).toBe(before.telemetry + 500 * 20);
    box.close();
    const db = new Database(join(mnt, "outbox.db"), { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });
});
