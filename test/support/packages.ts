import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

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
