import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openOutboxDatabase, SCHEMA_VERSION } from "../../agent/outbox/database.js";
import { runCli, startCli } from "../support/cli.js";
import { Monitor } from "../support/monitor.js";
import { MONITOR, MosquittoBroker } from "../support/mosquitto.js";
import { makePki, type TestPki } from "../support/pki.js";
import { makeTempDir } from "../support/tmp.js";
import { requireTool } from "../support/tools.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
let temp: ReturnType<typeof makeTempDir>;
let pki: TestPki;

beforeAll(() => {
  temp = makeTempDir();
  pki = makePki(temp.dir, ["gw-0001", MONITOR]);
});
afterAll(() => {
  temp.cleanup();
});

function writeConfig(name: string, body: string): string {
  const file = join(temp.dir, name);
  writeFileSync(file, body);
  return file;
}

function mtlsConfig(url: string, dataDir: string): string {
  const { cert, key } = pki.client("gw-0001");
  return `version: 1
gateway: { id: gw-0001 }
mqtt: { url: "${url}", ca: "${pki.caCert}", cert: "${cert}", key: "${key}", reconnect: { maxDelayMs: 2000 } }
buffer: { path: "${join(dataDir, "outbox.db")}" }
sampling: { intervalMs: 200 }
containers:
  - { id: C01, product: P01, driver: { type: simulated, seed: 1 } }
  - { id: C02, product: P02, driver: { type: simulated, seed: 2, scenario: power-off } }
log: { level: info }
`;
}

describe("reefer-edge validate", () => {
  it("accepts a good config", async () => {
    const file = writeConfig("good.yaml", mtlsConfig("mqtts://localhost:8883", temp.dir));
    const { code, stdout } = await runCli(["validate", "--config", file]);
    expect(stdout).toContain("ok (2 containers, gateway gw-0001)");
    expect(code).toBe(0);
  });

  it("prints every problem with its path and exits 78 (EX_CONFIG)", async () => {
    const file = writeConfig(
      "bad.yaml",
      "version: 1\ngateway: { id: gw-1 }\nmqtt: { url: 'mqtt://example.com' }\nsampling: { intervalMs: -5 }\ncontainers:\n  - { id: C1, product: P01, driver: { type: simulated, scenario: nope } }\n",
    );
    const { code, stderr } = await runCli(["validate", "--config", file]);
    expect(code).toBe(78);
    expect(stderr).toContain(`invalid config ${file}:`);
    expect(stderr).toContain("sampling.intervalMs: Too small");
    expect(stderr).toContain("containers[0].driver.scenario: Invalid option");
  });

  it("refuses a Modbus driver with an unknown profile, naming the path and the built-ins", async () => {
    const file = writeConfig(
      "modbus.yaml",
      "version: 1\ngateway: { id: gw-1 }\nmqtt: { url: 'mqtt://127.0.0.1:1883' }\ncontainers:\n  - { id: C1, product: P01, driver: { type: modbus-rtu, port: /dev/ttyUSB0, devices: [{ unitId: 1, profile: xy-md2 }] } }\n",
    );
    for (const command of ["validate", "run"]) {
      const { code, stderr } = await runCli([command, "--config", file]);
      expect(code, command).toBe(78);
      expect(stderr, command).toContain(
        "containers[0].driver.devices[0].profile: xy-md2: no built-in profile of that name (known: reefer-controller-template, xy-md02)",
      );
    }
  });

  it("refuses a world-readable private key", async () => {
    const { key } = pki.client("gw-0001");
    const file = writeConfig("key.yaml", mtlsConfig("mqtts://localhost:8883", temp.dir));
    chmodSync(key, 0o644);
    try {
      const { code, stderr } = await runCli(["validate", "--config", file]);
      expect(code).toBe(78);
      expect(stderr).toContain(
        `mqtt.key: ${key}: private key is accessible to other users (mode 0644)`,
      );
    } finally {
      chmodSync(key, 0o600);
    }
  });
});

describe("reefer-edge run, refusing to start", () => {
  function plainConfig(dataDir: string, extra = ""): string {
    return `version: 1
gateway: { id: gw-0001 }
mqtt: { url: "mqtt://127.0.0.1:9" }
buffer: { path: "${join(dataDir, "outbox.db")}" }
containers:
  - { id: C01, product: P01, driver: { type: simulated, seed: 1 } }
${extra}`;
  }

  it("exits 78 on an outbox a newer version migrated beyond its reach (a rollback gone wrong)", async () => {
    const dir = join(temp.dir, "too-new");
    mkdirSync(dir, { recursive: true });
    const { db, lock } = openOutboxDatabase(join(dir, "outbox.db"), "full", Date.now());
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.prepare("UPDATE meta SET value = ? WHERE key = 'oldest_compatible_schema'").run(
      SCHEMA_VERSION + 1,
    );
    db.close();
    lock?.release();
    const { code, stderr } = await runCli([
      "run",
      "--config",
      writeConfig("too-new.yaml", plainConfig(dir)),
    ]);
    expect(code).toBe(78);
    expect(stderr).toContain(
      `outbox database schema version ${SCHEMA_VERSION + 1} is newer than this agent understands`,
    );
  });

  it("exits 78 when updates are on and the release key is writable by others", async () => {
    const dir = join(temp.dir, "key");
    mkdirSync(dir, { recursive: true });
    const key = join(dir, "release.pem");
    writeFileSync(
      key,
      generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }),
    );
    chmodSync(key, 0o666);
    const file = writeConfig(
      "release-key.yaml",
      plainConfig(dir, `update: { enabled: true, releaseKeyFile: "${key}" }\n`),
    );
    const { code, stderr } = await runCli(["run", "--config", file]);
    expect(code).toBe(78);
    expect(stderr).toContain(
      `update.releaseKeyFile ${key}: writable by group or others; chmod go-w ${key}`,
    );
  });
});

describe("reefer-edge ports", () => {
  it("lists serial ports, or says why it cannot name them, and exits 0", async () => {
    const { code, stdout, stderr } = await runCli(["ports"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    // This machine may or may not have udevadm and adapters: each case has its own line.
    expect(stdout).toMatch(/^(note: udevadm is not installed|PORT\t|no serial ports found)/m);
  });
});

describe("reefer-edge demo", () => {
  it("starts an embedded broker, publishes simulated readings and stops by itself", async () => {
    const { code, stdout, stderr } = await runCli(["demo", "--duration", "3", "--interval", "200"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/reefer-edge demo: 4 simulated reefers/);
    expect(stdout).toMatch(/broker: connected {3}published: [1-9]\d*/);
    const [, captured, published] =
      /demo stopped: (\d+) readings captured, (\d+) published/.exec(stdout) ?? [];
    expect(Number(captured)).toBeGreaterThanOrEqual(40); // 4 containers, 5 Hz, 3 s
    expect(Number(published)).toBeGreaterThanOrEqual(Number(captured) - 8); // all but the last tick or two
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops cleanly on ${signal}`, async () => {
      const demo = startCli(["demo", "--interval", "200"]);
      await demo.waitForOutput(/published: [1-9]/);
      demo.child.kill(signal);
      expect(await demo.exited).toBe(0);
      expect(demo.stdout).toMatch(/demo stopped: \d+ readings captured/);
    });
  }
});

describe.skipIf(mosquitto.skip)("reefer-edge run against Mosquitto with mTLS", () => {
  let broker: MosquittoBroker;
  let monitor: Monitor;
  beforeAll(async () => {
    const dir = join(temp.dir, "broker");
    mkdirSync(dir);
    broker = await MosquittoBroker.start(mosquitto.path ?? "", dir, pki);
    monitor = await Monitor.connect(broker.url, pki.caCert, pki.client(MONITOR));
  });
  afterAll(async () => {
    await monitor.close();
    await broker.stop();
  });

  it("publishes, logs JSON without key material, and exits 0 on SIGTERM leaving a consistent outbox", async () => {
    const dataDir = join(temp.dir, "run-data");
    const file = writeConfig("run.yaml", mtlsConfig(broker.url, dataDir));
    const agent = startCli(["run", "--config", file]);
    await agent.waitForOutput(/connected to the broker/);
    await monitor.waitFor(() => monitor.seqs("C02").size >= 5, "readings from the agent process");
    agent.child.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    const lines = agent.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg: string; level: number });
    expect(lines.map((l) => l.msg)).toContain("agent stopped");
    expect(agent.stdout).not.toContain("PRIVATE KEY");
    const power = monitor.readings.find((r) => r.reading.container_id === "C02");
    expect(power?.reading).toMatchObject({ kilowatts: 0, fan_1: false, gateway_id: "gw-0001" });

    // A second start carries on the sequence where the first stopped.
    const again = startCli(["run", "--config", file]);
    // Live readings overtake the small backlog (which goes as backfill): wait for both.
    const before = Math.max(...monitor.seqs("C01"));
    const contiguous = () => {
      const seqs = monitor.seqs("C01");
      return Math.max(...seqs) === seqs.size && seqs.size > before + 2;
    };
    await monitor.waitFor(contiguous, "seqs 1..n of C01 without a gap after the restart");
    again.child.kill("SIGTERM");
    expect(await again.exited).toBe(0);
    expect(monitor.duplicates).toBe(0);
  });

  it("reloads its rules on SIGHUP, refuses a bad file and keeps running", async () => {
    const dataDir = join(temp.dir, "reload-data");
    const base = mtlsConfig(broker.url, dataDir);
    const file = writeConfig("reload.yaml", base);
    const agent = startCli(["run", "--config", file]);
    try {
      await agent.waitForOutput(/connected to the broker/);
      expect(monitor.readings.length).toBeGreaterThan(0);
      const alertsBefore = monitor.topics.filter((t) => t.endsWith("/alert")).length;

      // Every reading is now over the threshold: excursion alerts must follow.
      writeFileSync(
        file,
        `${base}rules: { temperature: { threshold: -50, raiseAfterReadings: 1 } }\n`,
      );
      agent.child.kill("SIGHUP");
      await agent.waitForOutput(/"msg":"config reloaded"/);
      await monitor.waitFor(
        () => monitor.topics.filter((t) => t.endsWith("/alert")).length > alertsBefore,
        "an alert under the reloaded threshold",
      );

      writeFileSync(file, `${base}rules: { temperature: { threshold: hot } }\n`);
      agent.child.kill("SIGHUP");
      await agent.waitForOutput(
        /config reload refused, the running rules stay: .*rules\.temperature\.threshold/,
      );

      writeFileSync(
        file,
        base.replace("reconnect: { maxDelayMs: 2000 }", "reconnect: { maxDelayMs: 3000 }"),
      );
      agent.child.kill("SIGHUP");
      await agent.waitForOutput(/config changes outside the rules take a restart/);
      expect(agent.child.exitCode).toBeNull();
    } finally {
      agent.child.kill("SIGTERM");
    }
    expect(await agent.exited).toBe(0);
  });
});
