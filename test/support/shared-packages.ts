import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";
import { buildPackages, type BuiltPackages, type DebianArch } from "./packages.js";
import { waitFor } from "./wait-for.js";

/**
 * The packages for `arch` at package.json's version, built once per run of the suite (or per CI
 * run: REEFER_EDGE_PACKAGES_DIR) and shared by the test files that install them (the package
 * tests, the power-cut guest): the first caller builds, the others wait for it. Read only: a
 * test that changes a package copies it first.
 */
export async function sharedPackages(arch: DebianArch): Promise<BuiltPackages> {
  // .ci/run names a folder for the whole CI run (its suites run in more than one vitest run);
  // otherwise the folder of this run of the suite.
  const base = process.env.REEFER_EDGE_PACKAGES_DIR ?? inject("runDir");
  mkdirSync(base, { recursive: true });
  const dir = join(base, `packages-${arch}`);
  const done = join(dir, "built");
  const failed = join(dir, "failed");
  let mine = false;
  try {
    // mkdir is atomic: whoever makes the folder builds.
    mkdirSync(dir);
    mine = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  if (mine) {
    try {
      const built = await buildPackages(arch, dir);
      writeMarker(done, JSON.stringify(built));
      return built;
    } catch (error) {
      writeMarker(failed, String(error));
      throw error;
    }
  }
  await waitFor(
    `the ${arch} package built by another test file`,
    () => existsSync(done) || existsSync(failed),
    900_000,
  );
  if (existsSync(failed)) throw new Error(readFileSync(failed, "utf8"));
  return JSON.parse(readFileSync(done, "utf8")) as BuiltPackages;
}

function writeMarker(path: string, text: string): void {
  // A marker's presence is the signal: write it whole under another name, then rename.
  const partial = `${path}.partial`;
  writeFileSync(partial, text);
  renameSync(partial, path);
}
