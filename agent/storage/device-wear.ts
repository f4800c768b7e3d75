import type { DeviceWear } from "../../core/gateway-status.js";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Reads the wear of the device holding `path` from sysfs: the kernel's count of sectors written
 * (field 7 of `stat`, 512-byte units whatever the device's own) and, on eMMC, `life_time` and
 * `pre_eol_info`. Null where the file lives on no block device (tmpfs, FUSE, overlay). Cheap: a
 * few small reads, done at a scrape or a health report, never per reading.
 */
export function readDeviceWear(path: string): DeviceWear | null {
  const dev = deviceNumber(existsSync(path) ? path : dirname(path));
  if (dev === null) return null;
  const sys = `/sys/dev/block/${dev}`;
  let stat: string;
  try {
    stat = readFileSync(join(sys, "stat"), "utf8");
  } catch {
    return null;
  }
  const sectors = Number(stat.trim().split(/\s+/)[6]);
  if (!Number.isFinite(sectors)) return null;
  // A partition's eMMC attributes are its disk's.
  const disk = existsSync(join(sys, "partition")) ? join(sys, "..") : sys;
  const lifeTime = readSysfs(join(disk, "device", "life_time"));
  const [a, b] = (lifeTime ?? "").split(/\s+/).map((v) => lifeUsed(v));
  const preEol = readSysfs(join(disk, "device", "pre_eol_info"));
  return {
    device: dev,
    bytesWritten: sectors * 512,
    lifeUsedA: a ?? null,
    lifeUsedB: b ?? null,
    preEol: preEol === null ? null : Number.parseInt(preEol, 16) || null,
  };
}

/** The major:minor of the file system holding `path`, or null. */
function deviceNumber(path: string): string | null {
  let dev: number;
  try {
    dev = statSync(path).dev;
  } catch {
    return null;
  }
  // glibc's gnu_dev_major/minor over the kernel's dev_t encoding.
  const major = (Math.floor(dev / 256) % 4096) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev % 256) | (Math.floor(dev / 4096) & ~0xff);
  return `${major}:${minor}`;
}

function readSysfs(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

/** JEDEC's life time estimate: 0x01 is 0-10 % used ... 0x0A 90-100 %, 0x0B exceeded. */
function lifeUsed(value: string): number | null {
  const step = Number.parseInt(value, 16);
  if (!Number.isFinite(step) || step < 1) return null;
  return Math.min(step, 11) / 10;
}
