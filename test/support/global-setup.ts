import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The CLI tests run the built agent (`dist/`), as a user would: build it once, fresh. */
export default function setup(): void {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  execFileSync(
    process.execPath,
    [`${root}node_modules/typescript/bin/tsc`, "-p", "tsconfig.build.json"],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
}
