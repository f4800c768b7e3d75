import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Under CI (CI set, and not "0" or "false"), a missing tool or privilege fails the run. */
export function inCi(): boolean {
  const value = (process.env.CI ?? "").toLowerCase();
  return value !== "" && value !== "0" && value !== "false";
}

/** Where a command lives, looking in PATH and the sbin folders Debian puts daemons in. */
export function findTool(name: string): string | null {
  const dirs = [
    ...(process.env.PATH ?? "").split(delimiter),
    "/usr/sbin",
    "/usr/local/sbin",
    "/sbin",
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * A tool an integration test needs. In CI (CI=true) its absence is a failure, since .ci/run
 * installs it; on a developer's machine the suite is skipped with the reason printed.
 */
export function requireTool(name: string, install: string): { path: string | null; skip: boolean } {
  const path = findTool(name);
  if (path) return { path, skip: false };
  if (inCi()) {
    throw new Error(
      `${name} is required in CI but was not found; .ci/run should have run: ${install}`,
    );
  }
  console.warn(
    `SKIPPED: ${name} not found (install it with: ${install}); integration tests that need it do not run`,
  );
  return { path: null, skip: true };
}

/**
 * Root, for tests that mount, boot or change users; `what` says which and why. In CI (run as
 * root) its absence is a failure.
 */
export function requireRoot(what: string): { skip: boolean } {
  if (process.getuid?.() === 0) return { skip: false };
  if (inCi()) throw new Error(`${what} needs root, and CI runs as root: it does not here`);
  console.warn(`SKIPPED: ${what} needs root (run the tests as root, as .ci/run does)`);
  return { skip: true };
}

/** libfaketime's preload library (Debian package faketime), for tests that fake the wall clock. */
export function findLibfaketime(): string | null {
  for (const dir of [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/arm-linux-gnueabihf",
    "/usr/lib",
  ]) {
    const candidate = join(dir, "faketime", "libfaketime.so.1");
    try {
      accessSync(candidate, constants.R_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** libfaketime for a test: in CI its absence is a failure, elsewhere the test is skipped with the reason. */
export function requireFaketime(what: string): { path: string | null; skip: boolean } {
  const path = findLibfaketime();
  if (path) return { path, skip: false };
  if (inCi())
    throw new Error(
      `${what} needs libfaketime in CI; .ci/run should have run: apt-get install -y faketime`,
    );
  console.warn(`SKIPPED: ${what} needs libfaketime (apt-get install faketime)`);
  return { path: null, skip: true };
}

/** A Python module a test uses as a real peer (test/requirements.txt); fails in CI if missing. */
export function requirePythonModule(module: string, what: string): { skip: boolean } {
  const python = findTool("python3");
  const found =
    python !== null &&
    spawnSync(python, ["-c", `import ${module}`], { stdio: "ignore" }).status === 0;
  if (found) return { skip: false };
  const install = "python3 -m pip install -r test/requirements.txt";
  if (inCi())
    throw new Error(
      `${what} needs the Python module ${module} in CI; .ci/run should have run: ${install}`,
    );
  console.warn(`SKIPPED: ${what} needs the Python module ${module} (${install})`);
  return { skip: true };
}
