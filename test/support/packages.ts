import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

export type DebianArch = "amd64" | "arm64" | "armhf";

export interface BuiltPackages {
  readonly version: string;
  readonly deb: string;
  readonly tarball: string;
}

/** The version package.json gives: the packages' own. */
export const PACKAGE_VERSION = (
  JSON.parse(readFileSync("package.json", "utf8")) as { version: string }
).version;

/**
 * Builds the .deb and the tarball for `arch` with deploy/package/build.sh, as a release would,
 * into `outdir`. Asynchronous: a build takes minutes and the test worker's other work goes on.
 */
export function buildPackages(
  arch: DebianArch,
  outdir: string,
  version = PACKAGE_VERSION,
): Promise<BuiltPackages> {
  return new Promise((resolve, reject) => {
    const build = spawn("bash", ["deploy/package/build.sh", arch, outdir], {
      // dist/ is built once for the whole run (test/support/global-setup.ts): the build must not
      // rewrite it under tests that are running it.
      env: { ...process.env, VERSION: version, REEFER_EDGE_DIST_BUILT: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
    build.stdout.on("data", keep);
    build.stderr.on("data", keep);
    build.once("exit", (code) => {
      if (code !== 0) reject(new Error(`build.sh ${arch} exited ${String(code)}:\n${output}`));
      else
        resolve({
          version,
          deb: join(outdir, `reefer-edge_${version}_${arch}.deb`),
          tarball: join(outdir, `reefer-edge-${version}-linux-${arch}.tar.gz`),
        });
    });
  });
}

/**
 * `deb` again under `version`, written into `outdir` (the built one is shared, read only), after
 * `change` had its way with the unpacked tree (its DEBIAN/ included): what a release, good or
 * bad, looks like to a gateway.
 */
export function repackDeb(
  deb: string,
  version: string,
  outdir: string,
  change: (tree: string) => void = () => {},
): string {
  const out = join(outdir, basename(deb).replace(/_[^_]+_(\w+)\.deb$/, `_${version}_$1.deb`));
  const dir = `${out}.tree`;
  const step = (command: string, args: readonly string[]) => {
    const result = spawnSync(command, args, { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`${command}: ${result.stderr}`);
  };
  step("dpkg-deb", ["-R", deb, dir]);
  step("sed", ["-i", `s/^Version: .*/Version: ${version}/`, join(dir, "DEBIAN/control")]);
  // The agent names its version from its package.json, as build.sh writes it.
  const manifest = join(dir, "usr/lib/reefer-edge/package.json");
  if (existsSync(manifest)) {
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as Record<string, unknown>;
    writeFileSync(manifest, `${JSON.stringify({ ...pkg, version }, null, 2)}\n`);
  }
  change(dir);
  step("dpkg-deb", ["--root-owner-group", "-Zgzip", "-z1", "-b", dir, out]);
  step("rm", ["-rf", dir]);
  return out;
}
