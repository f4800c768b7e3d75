import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { useMosquitto } from "../support/broker-fixture.js";
import { buildPackages } from "../support/packages.js";
import { requireTool } from "../support/tools.js";

// Mosquitto, Debian's qemu-user-static and cross compiler: a missing one skips with the reason
// printed, and fails under CI (test/support/tools.ts), where .ci/run installs them.
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const qemu = requireTool("qemu-aarch64-static", "apt-get install -y qemu-user-static");
const cross = requireTool("aarch64-linux-gnu-g++", "apt-get install -y g++-aarch64-linux-gnu");
const SYSROOT = "/usr/aarch64-linux-gnu";
const CONTAINER = "MSKU1234565"; // the packaged example's

/**
 * The arm64 package as a gateway gets it: built by deploy/package/build.sh (Node 22 for arm64
 * from the npm registry, better-sqlite3 cross-compiled), unpacked, and run on this x86 machine
 * by qemu-user: the carried Node and SQLite, the packaged example config validated, and
 * simulated readings delivered to Mosquitto over mTLS. (The service under systemd is
 * package-install.test.ts's, on amd64: qemu-user runs programs, not a booted system.)
 */
describe.skipIf(mosquitto.skip || qemu.skip || cross.skip)("the arm64 package under qemu", () => {
  const env = useMosquitto(mosquitto.path ?? "", ["gw-arm64"]);
  let unpacked = "";
  let stage = "";
  beforeAll(async () => {
    const built = await buildPackages("arm64", join(env.temp.dir, "packages"));
    unpacked = join(env.temp.dir, "unpacked");
    const run = spawnSync("dpkg-deb", ["-x", built.deb, unpacked], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`dpkg-deb -x: ${run.stderr}`);
    expect(
      spawnSync("dpkg-deb", ["-f", built.deb, "Architecture"], { encoding: "utf8" }).stdout.trim(),
    ).toBe("arm64");
    stage = join(unpacked, "usr/lib/reefer-edge");
  }, 900_000);

  /** node of the stage, under qemu, on the stage's CLI. */
  const args = (...cli: string[]) => [
    "-L",
    SYSROOT,
    join(stage, "node/bin/node"),
    join(stage, "dist/commands/cli.js"),
    ...cli,
  ];

  /** The packaged example, made this gateway's as an operator would. */
  function config(): string {
    const { cert, key } = env.pki.client("gw-arm64");
    const example = readFileSync(join(unpacked, "etc/reefer-edge/agent.yaml.example"), "utf8");
    const file = join(env.temp.dir, "arm64.yaml");
    const config = example
      .replace(/url: mqtts:\/\/\S+/, `url: ${env.broker.url}`)
      .replace("gw-0001", "gw-arm64")
      .replaceAll("/etc/reefer-edge/certs/AmazonRootCA1.pem", env.pki.caCert)
      .replaceAll("/etc/reefer-edge/certs/gateway.pem.crt", cert)
      .replaceAll("/etc/reefer-edge/certs/gateway.key", key)
      .replaceAll("/var/lib/reefer-edge/outbox.db", join(env.temp.dir, "arm64-outbox", "outbox.db"))
      .replace("intervalMs: 60000", "intervalMs: 500");
    // Nothing of this machine's own /etc or /var may be touched by the test.
    expect(config).not.toMatch(/\/etc\/reefer-edge\/certs\/\w|\/var\/lib\/reefer-edge/);
    writeFileSync(file, config);
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
    expect(validated.stdout, validated.stderr).toContain("ok (1 containers, gateway gw-arm64)");
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
        () => env.monitor.seqs(CONTAINER).size >= 3,
        "3 readings from the arm64 agent",
        120_000,
      );
    } finally {
      agent.kill("SIGTERM");
    }
    expect(await exited, stderr).toBe(0);
    const readings = env.monitor.readings.filter((r) => r.reading.gateway_id === "gw-arm64");
    expect(readings.every((r) => r.topic.startsWith("dt/reefer/gw-arm64/"))).toBe(true);
    expect([...env.monitor.seqs(CONTAINER)].sort((a, b) => a - b).slice(0, 3)).toEqual([1, 2, 3]);
  }, 180_000);
});
