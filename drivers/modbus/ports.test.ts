import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/support/tmp.js";
import { formatPortListing, listSerialPorts } from "./ports.js";

let temp: ReturnType<typeof makeTempDir>;
beforeEach(() => {
  temp = makeTempDir();
  const dev = join(temp.dir, "dev");
  mkdirSync(join(dev, "serial", "by-id"), { recursive: true });
  for (const name of ["ttyUSB0", "ttyACM0", "ttyS0", "ttyS17", "tty1", "null"]) {
    writeFileSync(join(dev, name), "");
  }
  symlinkSync("../../ttyUSB0", join(dev, "serial", "by-id", "usb-FTDI_FT232R_A10K1234-if00-port0"));
});
afterEach(() => {
  temp.cleanup();
});

describe("reefer-edge ports", () => {
  it("without udevadm, lists serial ports from /dev with their by-id names and says why", async () => {
    const missing = Object.assign(new Error("spawn udevadm ENOENT"), { code: "ENOENT" });
    const listing = await listSerialPorts({ root: temp.dir, list: () => Promise.reject(missing) });
    const dev = join(temp.dir, "dev");
    expect(listing.note).toMatch(/udevadm is not installed/);
    expect(listing.ports).toEqual([
      { path: join(dev, "ttyACM0"), byId: null },
      { path: join(dev, "ttyS0"), byId: null },
      {
        path: join(dev, "ttyUSB0"),
        byId: join(dev, "serial", "by-id", "usb-FTDI_FT232R_A10K1234-if00-port0"),
      },
    ]);
    expect(formatPortListing(listing)).toContain(
      `${join(dev, "ttyUSB0")}\t${join(dev, "serial/by-id/usb-FTDI_FT232R_A10K1234-if00-port0")}`,
    );
  });

  it("with udevadm, adds the by-id name to what serialport lists", async () => {
    const dev = join(temp.dir, "dev");
    const listing = await listSerialPorts({
      root: temp.dir,
      list: () =>
        Promise.resolve([
          { path: join(dev, "ttyUSB0"), manufacturer: "FTDI", vendorId: "0403", productId: "6001" },
        ]),
    });
    expect(listing.note).toBeNull();
    expect(formatPortListing(listing)).toMatch(/ttyUSB0\t.*usb-FTDI_FT232R.*\t0403:6001 FTDI$/m);
  });

  it("says what to check when there is no port", () => {
    expect(formatPortListing({ ports: [], note: null })).toMatch(/no serial ports found/);
  });
});
