import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** deploy/aws, whether the caller runs from source (tests) or compiled into dist/ (synth). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "cdk.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
