import Database from "better-sqlite3";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli, type RunningCli } from "../support/cli.js";
import { Monitor } from "../support/monitor.js";
import { MONITOR, MosquittoBroker } from "../support/mosquitto.js";
import { makePki, type TestPki } from "../support/pki.js";
import { makeTempDir } from "../support/tmp.js";
import { requireRoot, requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";
import { checkDelivery } from "./delivery.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const root = requireRoot("the read-only disk test (a loop-mounted ext4)");
const GATEWAY = "gw-ro";

/**
 * What an operator saw before: an ext4 under the outbox hits an error and remounts itself
 * read-only (as a failing SD card does), and the agent went silent until restarted. Here the
 * file system is a loop-mounted ext4 with errors=remount-ro, failed through the kernel's own
 * trigger, then checked and mounted again at the same path, as an operator would.
 */
describe.skipIf(mosquitto.skip || root.skip)("an ext4 under the outbox that goes read-only", () => {
  let temp: ReturnType<typeof makeTempDir>;
  let pki: TestPki;
  let broker: MosquittoBroker;
  let monitor: Monitor;
  let image: string;
  let loop: string;
  let mnt: string;
  let agent: RunningCli | null = null;

  const mount = () => execFileSync("mount", ["-o", "errors=remount-ro", loop, mnt]);

  beforeAll(async () => {
    temp = makeTempDir("reefer-edge-ro-");
    const dir = join(temp.dir, "broker");
    mkdirSync(dir);
    pki = makePki(dir, [GATEWAY, MONITOR]);
    broker = await MosquittoBroker.start(mosquitto.path ?? "", dir, pki);
    monitor = await Monitor.connect(broker.url, pki.caCert, pki.client(MONITOR));
    image = join(temp.dir, "card.img");
    execFileSync("truncate", ["-s", "32M", image]);
    execFileSync("mkfs.ext4", ["-q", image]);
    loop = execFileSync("losetup", ["-f", "--show", image], { encoding: "utf8" }).trim();
    mnt = join(temp.dir, "card");
    mkdirSync(mnt);
    mount();
  });

  afterAll(async () => {
    agent?.child.kill("SIGKILL");
    await agent?.exited;
    await monitor.close();
    await broker.stop();
    spawnSync("umount", [mnt]);
    spawnSync("losetup", ["-d", loop]);
    temp.cleanup();
  });

  it(
    "keeps publishing live readings and alerts, raises storage_failing, and goes back to the disk without a restart",
    { timeout: 720_000 },
    async () => {
      const { cert, key } = pki.client(GATEWAY);
      const config = join(temp.dir, "agent.yaml");
      writeFileSync(
        config,
        `version: 1
gateway: { id: ${GATEWAY} }
mqtt:
  url: "${broker.url}"
  ca: "${pki.caCert}"
  cert: "${cert}"
  key: "${key}"
  reconnect: { initialDelayMs: 200, maxDelayMs: 2000, stableAfterMs: 5000 }
buffer:
  path: "${join(mnt, "data", "outbox.db")}"
  whenStorageFails: { clearAfterSeconds: 2, retryMaxSeconds: 1 }
sampling: { intervalMs: 200 }
containers:
  - { id: C01, product: P01, driver: { type: simulated, seed: 1 } }
  - { id: C02, product: P05, driver: { type: simulated, seed: 2 } }
http: { listen: "127.0.0.1:0" }
log: { level: info }
`,
      );
      agent = startCli(["run", "--config", config]);
      const running = agent;
      await running.waitForOutput(/HTTP listener up/);
      const port = Number(/"port":(\d+)/.exec(running.stdout)?.[1]);
      const scrape = async (path: string) =>
        (await fetch(`http://127.0.0.1:${port}${path}`)).text();
      const received = () =>
        monitor.readings.filter((r) => r.reading.gateway_id === GATEWAY).length;
      const storageAlerts = (state: string) =>
        monitor.alerts.filter(
          (a) => a.alert.alert_type === "storage_failing" && a.alert.state === state,
        );
      await monitor.waitFor(() => received() >= 10, "the first readings");

      // The card fails: ext4 aborts its journal and remounts read-only under the open files.
      writeFileSync(`/sys/fs/ext4/${basename(loop)}/trigger_fs_error`, "1");
      await monitor.waitFor(
        () => new Set(storageAlerts("raised").map((a) => a.alert.container_id)).size === 2,
        "storage_failing raised for both containers",
      );
      const raised: Record<string, unknown> = storageAlerts("raised")[0]?.alert ?? {};
      expect(raised).toMatchObject({ severity: "critical", gateway_id: GATEWAY });
      expect(String(raised.reason)).toMatch(/SQLITE_IOERR|SQLITE_READONLY|EROFS|EIO/);
      // The live lane goes on from memory.
      const atFailure = received();
      await monitor.waitFor(
        () => received() >= atFailure + 20,
        "live readings while the disk fails",
      );
      const failingMetrics = await scrape("/metrics");
      expect(failingMetrics).toMatch(/^reefer_edge_storage_failing 1$/m);
      expect(failingMetrics).toMatch(/^reefer_edge_readings_not_stored_total [1-9]\d*$/m);
      const health = JSON.parse(await scrape("/healthz")) as { status: string; reasons: string[] };
      expect(health.status).toBe("failing");
      expect(health.reasons.join()).toMatch(/storage failing since/);

      // The agent let go of the broken file system: it can be unmounted (no lazy detach),
      // checked and mounted again at the same path.
      await monitor.waitFor(
        () => spawnSync("umount", [mnt]).status === 0,
        "the file system to be released by the agent and unmounted",
      );
      // Another test's container (systemd-nspawn, podman) started while this file system was
      // mounted keeps a copy of the mount in its own mount namespace, and with it the device, until
      // it stops (CI found e2fsck's "is in use" once): wait for that, naming who holds it.
      let fsck = spawnSync("e2fsck", ["-fy", loop], { encoding: "utf8" });
      await waitFor(
        `${loop} released by every mount namespace`,
        () => {
          if (!/is in use/.test(fsck.stdout + fsck.stderr)) return true;
          fsck = spawnSync("e2fsck", ["-fy", loop], { encoding: "utf8" });
          return !/is in use/.test(fsck.stdout + fsck.stderr);
        },
        600_000,
        { everyMs: 1000, detail: () => `still held by ${holders(loop).join(", ")}` },
      );
      expect(fsck.status, fsck.stdout + fsck.stderr).toBeLessThanOrEqual(1); // 1: errors fixed
      mount();

      await monitor.waitFor(
        () => new Set(storageAlerts("cleared").map((a) => a.alert.container_id)).size === 2,
        "storage_failing cleared for both containers",
      );
      expect(running.stdout).toMatch(/storage works again/);
      expect(await scrape("/metrics")).toMatch(/^reefer_edge_storage_failing 0$/m);
      const atRecovery = received();
      await monitor.waitFor(() => received() >= atRecovery + 10, "readings after the recovery");

      running.child.kill("SIGTERM");
      expect(await running.exited).toBe(0);
      agent = null;
      // Capture went on on the disk: the outbox holds each container's latest seq.
      const db = new Database(join(mnt, "data", "outbox.db"), { readonly: true });
      const stored = db
        .prepare<[], { container_id: string; last_seq: number }>(
          "SELECT container_id, last_seq FROM sequences WHERE container_id NOT LIKE '#%'", // not the audit log's row
        )
        .all();
      db.close();
      const delivered = checkDelivery(monitor.readings, GATEWAY);
      for (const { container_id, last_seq } of stored) {
        expect(last_seq, container_id).toBe(delivered.lastSeq.get(container_id));
      }
      // Nothing lost: every seq from 1 to the last arrived, and no seq carried two readings.
      expect(delivered.missing).toEqual([]);
      expect(delivered.conflicts).toEqual([]);
    },
  );
});

/** The processes whose mount namespace still mounts `device` (by its major:minor). */
function holders(device: string): string[] {
  const rdev = statSync(device).rdev;
  const id = `${Math.floor(rdev / 256)}:${rdev % 256}`;
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/mountinfo`, "utf8").includes(` ${id} `)) continue;
      found.push(`${pid} (${readFileSync(`/proc/${pid}/comm`, "utf8").trim()})`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
