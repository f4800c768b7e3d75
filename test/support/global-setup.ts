import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /**
     * A folder that lives as long as this run of the suite, for what several test files need
     * and only one should make: the amd64 package (test/support/packages.ts).
     */
    runDir: string;
  }
}

/**
 * The CLI tests run the built agent (`dist/`), as a user would: build it once, fresh, with the
 * same `npm run build` (it also copies the register profiles beside the code). Not when
 * REEFER_EDGE_DIST_BUILT=1: .ci/run builds once and runs several vitest processes side by side,
 * and a build under a running suite would rewrite files its tests are loading.
 */
export default function setup(project: TestProject): () => void {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  if (process.env.REEFER_EDGE_DIST_BUILT !== "1")
    execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit" });
  const runDir = mkdtempSync(join(tmpdir(), "reefer-edge-run-"));
  project.provide("runDir", runDir);
  return () => rmSync(runDir, { recursive: true, force: true });
}
