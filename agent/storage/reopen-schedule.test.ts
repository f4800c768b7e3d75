import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeTempDir } from "../../test/support/tmp.js";
import { ReopenSchedule } from "./reopen-schedule.js";

describe("ReopenSchedule", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits the first wait, doubles it up to the longest, and starts over once the outbox opened", () => {
    vi.useFakeTimers();
    const at: number[] = [];
    const schedule = new ReopenSchedule(":memory:", { first: 1000, max: 4000 }, () =>
      at.push(Date.now()),
    );
    const start = Date.now();
    for (let i = 0; i < 5; i++) {
      schedule.schedule();
      vi.runOnlyPendingTimers();
    }
    expect(at.map((t) => t - start)).toEqual([1000, 3000, 7000, 11000, 15000]);
    schedule.opened();
    schedule.schedule();
    vi.runOnlyPendingTimers();
    expect((at.at(-1) ?? 0) - (at.at(-2) ?? 0)).toBe(1000);
  });

  it("keeps one attempt due at a time, and none after it stopped", () => {
    vi.useFakeTimers();
    let attempts = 0;
    const schedule = new ReopenSchedule(":memory:", { first: 1000, max: 8000 }, () => attempts++);
    schedule.schedule();
    schedule.schedule();
    vi.advanceTimersByTime(1000);
    expect(attempts).toBe(1);
    schedule.schedule();
    schedule.stop();
    schedule.schedule();
    vi.advanceTimersByTime(60_000);
    expect(attempts).toBe(1);
  });

  it("tells a mount point left empty only by another device: a missing file on the same disk is not one", () => {
    const temp = makeTempDir();
    try {
      const path = join(temp.dir, "outbox.db");
      writeFileSync(path, "");
      const schedule = new ReopenSchedule(path, { first: 1000, max: 1000 }, () => {});
      // Before the outbox ever opened, nothing is known of its device.
      expect(schedule.mountPointLeftEmpty).toBe(false);
      schedule.opened();
      expect(schedule.mountPointLeftEmpty).toBe(false);
      // The file removed, its folder still on the same disk: a fresh outbox may be made there.
      rmSync(path);
      expect(schedule.mountPointLeftEmpty).toBe(false);
      temp.cleanup();
      // The folder is gone with the file: no device to compare, which is not the same device.
      expect(schedule.mountPointLeftEmpty).toBe(true);
    } finally {
      temp.cleanup();
    }
  });
});
