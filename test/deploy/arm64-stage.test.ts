import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { useMosquitto } from "../support/broker-fixture.js";
import { requireTool } from "../support/tools.js";

// Mosquitto, Debian's qemu-user-static and cross compiler: a missing one skips with the reason
// printed, and fails under CI (test/support/tools.ts), where .ci/run installs them.
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const qemu = requireTool("qemu-aarch64-static", "apt-get install -y qemu-user-static");
const cross = requireTool("aarch64-linux-gnu-g++", "apt-get install -y g++-aarch64-linux-gnu");
const SYSROOT = "/usr/aarch64-linux-gnu";

/**
 * The agent as an arm64 gateway runs it: staged by deploy/package/stage.sh (Node 22 for arm64
 * from the npm registry, better-sqlite3 cross-compiled), run on this x86 machine by qemu-user,
 * validating a config and delivering simulated readings to Mosquitto over mTLS.
 */
describe.skipIf(mosquitto.skip || qemu.skip || cross.skip)("the arm64 build under qemu", () => {
  const env = useMosquitto(mosquitto.path ?? "", ["gw-arm64"]);
  let stage = "";
  beforeAll(() => {
    stage = join(mkdtempSync(join(env.temp.dir, "stage-")), "reefer-edge");
    const run = spawnSync("bash", ["deploy/package/stage.sh", "arm64", stage], {
      encoding: "utf8",
    });
    if (run.status !== 0) throw new Error(`stage.sh failed:\n${run.stdout}\n${run.stderr}`);
  }, 600_000);

  /** node of the stage, under qemu, on the stage's CLI. */
  const args = (...cli: string[]) => [
    "-L",
    SYSROOT,
    join(stage, "node/bin/node"),
    join(stage, "dist/agent/cli.js"),
    ...cli,
  ];

  function config(): string {
    const { cert, key } = env.pki.client("gw-arm64");
    const file = join(env.temp.dir, "arm64.yaml");
    writeFileSync(
      file,
      `version: 1
gateway: { id: gw-arm64 }
mqtt: { url: "${env.broker.url}", ca: "${env.pki.caCert}", cert: "${cert}", key: "${key}" }
buffer: { path: "${join(env.temp.dir, "arm64-outbox", "outbox.db")}" }
sampling: { intervalMs: 500 }
containers:
  - { id: ARM1, product: P01, driver: { type: simulated, seed: 1 } }
  - { id: ARM2, product: P02, driver: { type: simulated, seed: 2 } }
`,
    );
    return file;
  }

  it("runs Node 22 for arm64 and the cross-compiled SQLite", () => {
    const run = spawnSync(
      qemu.path ?? "",
      [
        "-L",
        SYSROOT,
        join(stage, "node/bin/node"),
        "-e",
        `
        const D = require(${JSON.stringify(join(stage, "node_modules/better-sqlite3"))});
        const db = new D(":memory:");
        console.log(process.version, process.arch, db.prepare("SELECT sqlite_version() AS v").get().v);`,
      ],
      { encoding: "utf8" },
    );
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^v22\.\d+\.\d+ arm64 3\.\d+\.\d+/);
  });

  it("validates a config, then delivers readings to the broker and stops gracefully", async () => {
    const file = config();
    const validated = spawnSync(qemu.path ?? "", args("validate", "--config", file), {
      encoding: "utf8",
    });
    expect(validated.stdout, validated.stderr).toContain("ok (2 containers, gateway gw-arm64)");
    expect(validated.status).toBe(0);

    const agent = spawn(qemu.path ?? "", args("run", "--config", file), {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    agent.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      agent.once("exit", (code) => resolve(code)),
    );
    try {
      await env.monitor.waitFor(
        () => env.monitor.seqs("ARM1").size >= 3 && env.monitor.seqs("ARM2").size >= 3,
        "3 readings of each container from the arm64 agent",
        120_000,
      );
    } finally {
      agent.kill("SIGTERM");
    }
    expect(await exited, stderr).toBe(0);
    const readings = env.monitor.readings.filter((r) => r.reading.gateway_id === "gw-arm64");
    expect(readings.every((r) => r.topic.startsWith("dt/reefer/gw-arm64/"))).toBe(true);
    expect([...env.monitor.seqs("ARM1")].sort((a, b) => a - b).slice(0, 3)).toEqual([1, 2, 3]);
  }, 180_000);
});
