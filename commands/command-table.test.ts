import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { COMMANDS, usage } from "./command-table.js";

describe("the CLI's command table", () => {
  it("names each command once, in the usage text, with a module of its own that exports run", async () => {
    const names = COMMANDS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const command of COMMANDS) {
      expect(usage()).toContain(`reefer-edge ${command.name}`);
      // `cloud` imports the AWS SDK only inside run, so every module loads here.
      expect(typeof (await command.load()).run).toBe("function");
    }
  });

  it("has a row for every *-command.ts module beside it: no command is left out of the table", () => {
    const here = fileURLToPath(new URL(".", import.meta.url));
    const modules = readdirSync(here)
      .filter((f) => f.endsWith("-command.ts"))
      .map((f) => f.replace(/-command\.ts$/, ""));
    expect(modules.sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });
});
