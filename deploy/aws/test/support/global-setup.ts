import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { JOB_JAR } from "../../lib/analytics-stack.js";
import { projectRoot } from "../../lib/project-root.js";

/**
 * Every test that synthesizes the app needs the Flink job's jar (the Analytics stack deploys
 * it). CI's `npm run test:flink` builds it first; a clone where only `npm test` runs builds it
 * here, once, before any file, so that no test depends on another having run before it.
 */
export default function setup(): void {
  if (existsSync(join(projectRoot(), JOB_JAR))) return;
  const built = spawnSync("npm", ["run", "job"], { cwd: projectRoot(), encoding: "utf8" });
  if (built.status !== 0)
    throw new Error(`npm run job (the Flink job's jar): ${built.stdout}${built.stderr}`);
}
