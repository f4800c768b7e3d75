import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/**
 * This agent's version, from its package.json: the nearest one named reefer-edge above this
 * file, whether it runs from source, from dist/ or from an installed package.
 */
export function agentVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "reefer-edge" && pkg.version) return (cached = pkg.version);
    } catch {
      // not here: one folder up
    }
    dir = dirname(dir);
  }
  return (cached = "unknown");
}
