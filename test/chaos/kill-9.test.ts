import Database from "better-sqlite3";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli } from "../support/cli.js";
import { Monitor } from "../support/monitor.js";
import { MONITOR, MosquittoBroker } from "../support/mosquitto.js";
import { makePki, type TestPki } from "../support/pki.js";
import { makeTempDir } from "../support/tmp.js";
import { requireTool } from "../support/tools.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const KILLS = 20;

describe.skipIf(mosquitto.skip)("kill -9 of the agent at random moments", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let pki: TestPki;
  let broker: MosquittoBroker;
  let monitor: Monitor;

  beforeAll(async () => {
    temp = makeTempDir();
    const dir = join(temp.dir, "broker");
    mkdirSync(dir);
    pki = makePki(dir, ["gw-0001", MONITOR]);
    broker = await MosquittoBroker.start(mosquitto.path ?? "", dir, pki);
    monitor = await Monitor.connect(broker.url, pki.caCert, pki.client(MONITOR));
  });
  afterAll(async () => {
    await monitor.close();
    await broker.stop();
    temp.cleanup();
  });

  it(`loses nothing captured across ${KILLS} kills`, { timeout: 120_000 }, async () => {
    const { cert, key } = pki.client("gw-0001");
    const db = join(temp.dir, "data", "outbox.db");
    const file = join(temp.dir, "agent.yaml");
    writeFileSync(
      file,
      `version: 1
gateway: { id: gw-0001 }
mqtt: { url: "${broker.url}", ca: "${pki.caCert}", cert: "${cert}", key: "${key}", reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } }
buffer: { path: "${db}" }
sampling: { intervalMs: 100 }
containers:
  - { id: C01, product: P01, driver: { type: simulated, seed: 1 } }
  - { id: C02, product: P02, driver: { type: simulated, seed: 2, scenario: temperature-rising, timeScale: 600 } }
log: { level: info }
`,
    );
    // A seeded sequence of moments: the same kills on every run of the test.
    let seed = 7;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    for (let kill = 0; kill < KILLS; kill++) {
      const agent = startCli(["run", "--config", file]);
      await new Promise((resolve) => setTimeout(resolve, 300 + random() * 1200));
      agent.child.kill("SIGKILL");
      expect(await agent.exited).toBe("SIGKILL");
    }
    // A last, graceful run sends what is left.
    const last = startCli(["run", "--config", file]);
    await last.waitForOutput(/connected to the broker/);
    const reading = new Database(db, { readonly: true });
    const backlog = () =>
      reading
        .prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE lane IN (0, 1)")
        .get()?.n ?? 0;
    await monitor.waitFor(() => backlog() < 20, "the backlog to drain", 60_000);
    last.child.kill("SIGTERM");
    expect(await last.exited).toBe(0);

    const assigned = reading
      .prepare<[], { container_id: string; last_seq: number }>("SELECT * FROM sequences")
      .all();
    const buffered = new Set(
      reading
        .prepare<[], { k: string }>(
          "SELECT container_id || '#' || seq AS k FROM outbox WHERE lane = 1",
        )
        .all()
        .map((r) => r.k),
    );
    expect(reading.pragma("integrity_check", { simple: true })).toBe("ok");
    reading.close();
    const missing: string[] = [];
    let captured = 0;
    for (const { container_id, last_seq } of assigned) {
      captured += last_seq;
      const seqs = monitor.seqs(container_id);
      for (let seq = 1; seq <= last_seq; seq++) {
        if (!seqs.has(seq) && !buffered.has(`${container_id}#${seq}`))
          missing.push(`${container_id}#${seq}`);
      }
    }
    console.log(
      `kill -9 ×${KILLS}: ${captured} readings captured, ${missing.length} lost, ${monitor.duplicates} duplicates, ${buffered.size} still buffered`,
    );
    expect(captured).toBeGreaterThan(KILLS * 10);
    expect(missing).toEqual([]);
  });
});
