import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * The CLI tests run the built agent (`dist/`), as a user would: build it once, fresh, with the
 * same `npm run build` (it also copies the register profiles beside the code).
 */
export default function setup(): void {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit" });
}
