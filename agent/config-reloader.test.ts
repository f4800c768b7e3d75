import { renameSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfigFile } from "../config/load.js";
import type { AgentConfig } from "../config/schema.js";
import { captureLogs } from "../test/support/logs.js";
import { makeTempDir } from "../test/support/tmp.js";
import { ConfigReloader } from "./config-reloader.js";
import { waitFor } from "../test/support/wait-for.js";

const BASE = `version: 1
gateway: { id: gw-1 }
mqtt: { url: "mqtt://127.0.0.1:1883" }
containers: [{ id: C1, product: P01, driver: { type: simulated } }]
`;

let temp: ReturnType<typeof makeTempDir>;
let reloader: ConfigReloader | null = null;
beforeEach(() => {
  temp = makeTempDir();
});
afterEach(() => {
  reloader?.stop();
  temp.cleanup();
});

describe("ConfigReloader", () => {
  it("applies the rules of a file that changed on disk, replaced by a rename or not", async () => {
    const file = join(temp.dir, "agent.yaml");
    writeFileSync(file, BASE);
    const applied: AgentConfig[] = [];
    const { logger, lines } = captureLogs();
    reloader = new ConfigReloader({
      file,
      env: {},
      initial: loadConfigFile(file),
      logger,
      apply: (c) => applied.push(c),
      pollMs: 20,
    });
    reloader.start();
    writeFileSync(file, `${BASE}rules: { temperature: { threshold: 12 } }\n`);
    utimesSync(file, new Date(), new Date(Date.now() + 5000)); // a distinct mtime, whatever the fs granularity
    await waitFor("the reload", () => applied.length > 0, 5000, { everyMs: 20 });
    expect(applied[0]?.rules.temperature.threshold).toBe(12);
    expect(lines.some((l) => l.msg === "config reloaded" && l.reason === "file changed")).toBe(
      true,
    );
    expect(lines.some((l) => l.msg.includes("take a restart"))).toBe(false);

    // As editors and config management do: a new file renamed over the old one.
    writeFileSync(`${file}.new`, `${BASE}rules: { temperature: { threshold: 14 } }\n`);
    renameSync(`${file}.new`, file);
    await waitFor("the second reload", () => applied.length >= 2, 5000, { everyMs: 20 });
    expect(applied[1]?.rules.temperature.threshold).toBe(14);
  });
});
