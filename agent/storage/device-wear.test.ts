import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync, fsyncSync, openSync, closeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/support/tmp.js";
import { requireRoot } from "../../test/support/tools.js";
import { readDeviceWear } from "./device-wear.js";

const root = requireRoot("the device wear test (a loop-mounted ext4)");

describe("readDeviceWear", () => {
  it("is null where the file lives on no block device", () => {
    expect(readDeviceWear("/proc/self/status")).toBeNull();
  });
});

describe.skipIf(root.skip)("readDeviceWear on a loop-mounted ext4", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let loop: string;
  let mnt: string;
  beforeAll(() => {
    temp = makeTempDir("reefer-edge-wear-");
    const image = join(temp.dir, "card.img");
    execFileSync("truncate", ["-s", "16M", image]);
    execFileSync("mkfs.ext4", ["-q", image]);
    loop = execFileSync("losetup", ["-f", "--show", image], { encoding: "utf8" }).trim();
    mnt = join(temp.dir, "card");
    mkdirSync(mnt);
    execFileSync("mount", [loop, mnt]);
  });
  afterAll(() => {
    spawnSync("umount", [mnt]);
    spawnSync("losetup", ["-d", loop]);
    temp.cleanup();
  });

  it("counts the bytes that reach the device, as the kernel does", () => {
    const path = join(mnt, "outbox.db");
    const before = readDeviceWear(path);
    expect(before?.device).toMatch(/^7:\d+$/);
    writeFileSync(path, Buffer.alloc(1024 * 1024, 1));
    const fd = openSync(path, "r");
    fsyncSync(fd);
    closeSync(fd);
    const after = readDeviceWear(path);
    const written = (after?.bytesWritten ?? 0) - (before?.bytesWritten ?? 0);
    expect(written).toBeGreaterThanOrEqual(1024 * 1024);
    expect(after?.lifeUsedA).toBeNull(); // a loop device is no eMMC
  });
});
