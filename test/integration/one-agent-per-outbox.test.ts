import Database from "better-sqlite3";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useMosquitto } from "../support/broker-fixture.js";
import { startCli } from "../support/cli.js";
import { requireTool } from "../support/tools.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");

describe.skipIf(mosquitto.skip)("one agent per outbox", () => {
  const env = useMosquitto(mosquitto.path ?? "", ["gw-lock"]);

  function config(name: string): { file: string; db: string } {
    const { cert, key } = env.pki.client("gw-lock");
    const db = join(env.temp.dir, name, "outbox.db");
    const file = join(env.temp.dir, `${name}.yaml`);
    writeFileSync(
      file,
      `version: 1
gateway: { id: gw-lock }
mqtt: { url: "${env.broker.url}", ca: "${env.pki.caCert}", cert: "${cert}", key: "${key}", reconnect: { initialDelayMs: 200, maxDelayMs: 1000 } }
buffer: { path: "${db}" }
sampling: { intervalMs: 100 }
containers:
  - { id: L01, product: P01, driver: { type: simulated, seed: 1 } }
log: { level: info }
`,
    );
    return { file, db };
  }

  it("a second run exits 75 naming the database and the holder's pid; the first delivers gap-free", async () => {
    const { file, db } = config("twice");
    const first = startCli(["run", "--config", file]);
    await first.waitForOutput(/connected to the broker/);
    const second = startCli(["run", "--config", file]);
    expect(await second.exited).toBe(75);
    expect(second.stderr).toContain(db);
    expect(second.stderr).toContain(`pid ${String(first.child.pid)}`);

    // validate says the same, as a warning: the config itself is fine.
    const check = startCli(["validate", "--config", file]);
    expect(await check.exited).toBe(0);
    expect(check.stdout).toContain(`pid ${String(first.child.pid)}`);

    await env.monitor.waitFor(() => env.monitor.seqs("L01").size >= 20, "readings of L01");
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    const lastSeq = lastSeqOf(db, "L01");
    await env.monitor.waitFor(
      () => env.monitor.seqs("L01").size >= lastSeq,
      `all ${lastSeq} readings of L01`,
    );
    const readings = env.monitor.readings.filter((r) => r.reading.container_id === "L01");
    // Every seq from 1 to the last, and each seq carried one reading of one process only.
    expect([...env.monitor.seqs("L01")].sort((a, b) => a - b)).toEqual(
      Array.from({ length: lastSeq }, (_, i) => i + 1),
    );
    expect(new Set(readings.map((r) => r.reading.boot_id)).size).toBe(1);
  });

  it("after kill -9 of the holder, a new agent takes the outbox over at once", async () => {
    const { file } = config("killed");
    const holder = startCli(["run", "--config", file]);
    await holder.waitForOutput(/agent starting/);
    holder.child.kill("SIGKILL");
    expect(await holder.exited).toBe("SIGKILL");
    const next = startCli(["run", "--config", file]);
    await next.waitForOutput(/agent starting/);
    next.child.kill("SIGTERM");
    expect(await next.exited).toBe(0);
    expect(next.stderr).not.toContain("in use by another");
  });
});

function lastSeqOf(path: string, container: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db
        .prepare<[string], { last_seq: number }>(
          "SELECT last_seq FROM sequences WHERE container_id = ?",
        )
        .get(container)?.last_seq ?? 0
    );
  } finally {
    db.close();
  }
}
