import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireFaketime, requireRoot, requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";
import { ChaosRig, formatTable, type ScenarioFigures } from "./rig.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const root = requireRoot("the disk-full chaos scenario (a 4 MiB tmpfs)");
const faketime = requireFaketime("the 1970-clock chaos scenario");
/**
 * Soak mode: REEFER_EDGE_CHAOS_SOAK=N repeats and lengthens every fault N times (npm run
 * chaos:soak runs N = 10, about half an hour). CI runs N = 1, about 3 minutes.
 */
const SOAK = Math.max(1, Number(process.env.REEFER_EDGE_CHAOS_SOAK ?? "1") || 1);
const budget = (ms: number) => ms * SOAK + 60_000;
/** Seeded, so every run injects the same faults at the same moments. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 48_271) % 2_147_483_647) / 2_147_483_647;
}

/**
 * The chaos suite: the real agent process on simulated reefers sampling every 100 ms, against
 * Mosquitto with mTLS and a subscriber that records every (container_id, seq). After each
 * scenario nothing captured may be missing, duplicates stay within the in-flight window and
 * integrity_check is ok. Prints a table; REEFER_EDGE_WRITE_RELIABILITY=1 writes RELIABILITY.md.
 */
describe.skipIf(mosquitto.skip)("chaos", () => {
  let rig: ChaosRig;
  const rows: ScenarioFigures[] = [];
  beforeAll(async () => {
    rig = await ChaosRig.start(mosquitto.path ?? "");
  });
  afterAll(async () => {
    const table = formatTable(rows);
    console.log(`\n${table}\n`);
    if (process.env.REEFER_EDGE_WRITE_RELIABILITY === "1") writeReliability(table);
    await rig.stop();
  });

  function check(figures: ScenarioFigures): void {
    rows.push(figures);
    // Evictions under the lane policy are the only way a captured reading may go, and are counted.
    // (A row evicted while in flight may still arrive: the count is an upper bound.)
    expect(
      figures.lost,
      `${figures.scenario}: readings lost beyond the counted evictions; ${figures.diagnosis}`,
    ).toBeLessThanOrEqual(figures.evicted);
    expect(figures.integrity).toBe("ok");
    expect(figures.duplicates).toBeLessThanOrEqual(100 * figures.iterations); // the in-flight window
    expect(figures.captured).toBeGreaterThan(0);
  }

  // The broker is unreachable to the agent (connections cut, new ones refused at the proxy) while
  // the monitor stays connected to it: an observer whose own session crossed a broker restart
  // once missed a backfill envelope the broker had acknowledged, which read as the agent's loss.
  // Faults last a number of captured readings (20 a second here), never a sleep.
  it(
    `broker outages of 600 readings (30 s), ${2 * SOAK} times`,
    { timeout: budget(180_000) },
    async () => {
      const agent = rig.startAgent(rig.config("gw-outage", { viaProxy: true }));
      await agent.waitForOutput(/connected to the broker/);
      for (let i = 0; i < 2 * SOAK; i++) {
        await rig.runFor("gw-outage", 60, agent);
        await rig.proxy.down();
        await rig.runFor("gw-outage", 600, agent);
        await rig.proxy.up();
      }
      check(
        await rig.settle(
          "gw-outage",
          "broker outage 600 readings (30 s)",
          2,
          "broker unreachable: connections cut and refused",
          agent,
        ),
      );
    },
  );

  it(
    `kill -9 of the agent at ${20 * SOAK} random moments`,
    { timeout: budget(120_000) },
    async () => {
      const file = rig.config("gw-kill");
      const random = seeded(7);
      for (let kill = 0; kill < 20 * SOAK; kill++) {
        const agent = rig.startAgent(file);
        // Anywhere from the start (none captured yet) to 30 readings in.
        await rig.runFor("gw-kill", Math.floor(random() * 31), agent);
        agent.child.kill("SIGKILL");
        expect(await agent.exited).toBe("SIGKILL");
      }
      check(
        await rig.settle(
          "gw-kill",
          "kill -9",
          20,
          "SIGKILL at seeded random moments, restarted each time",
        ),
      );
    },
  );

  it(
    "a bad link: latency, a bandwidth cap, resets, and a blackhole that keep-alive must notice",
    { timeout: budget(120_000) },
    async () => {
      const agent = rig.startAgent(rig.config("gw-link", { viaProxy: true, keepaliveSeconds: 5 }));
      await agent.waitForOutput(/connected to the broker/);
      rig.proxy.set({ kind: "latency", ms: 300 });
      await rig.runFor("gw-link", 100, agent);
      rig.proxy.set({ kind: "bandwidth", bytesPerSecond: 8_000 });
      await rig.runFor("gw-link", 100, agent);
      rig.proxy.set({ kind: "none" });
      for (let i = 0; i < 3; i++) {
        rig.proxy.reset();
        await rig.runFor("gw-link", 40, agent);
      }
      const disconnectsBefore = count(agent.stdout, "disconnected from the broker");
      rig.proxy.set({ kind: "blackhole" });
      // The half-open link is noticed by keep-alive (5 s × 1.5) without any socket error.
      await waitFor(
        "keep-alive to notice the half-open link",
        () => count(agent.stdout, "disconnected from the broker") > disconnectsBefore,
        60_000,
      );
      await rig.runFor("gw-link", 100, agent);
      rig.proxy.set({ kind: "none" });
      check(
        await rig.settle(
          "gw-link",
          "bad link",
          1,
          "300 ms latency, 8 kB/s, 3 resets, a blackhole (half-open) until keep-alive notices",
          agent,
        ),
      );
    },
  );

  it(
    "a second client steals the client id for 20 s: no storm, at most one CONNECT a second",
    { timeout: budget(120_000) },
    async () => {
      const agent = rig.startAgent(rig.config("gw-steal"));
      await agent.waitForOutput(/connected to the broker/);
      const thiefIdentity = rig.pki.client("thief");
      const thief = mqtt.connect(rig.broker.url, {
        clientId: "gw-steal",
        ca: readFileSync(rig.pki.caCert),
        cert: readFileSync(thiefIdentity.cert),
        key: readFileSync(thiefIdentity.key),
        reconnectPeriod: 200, // the thief retries fast and kicks the agent each time
        protocolVersion: 4,
      });
      thief.on("error", () => undefined);
      const started = Date.now();
      await rig.runFor("gw-steal", 400, agent);
      await thief.endAsync(true);
      const seconds = (Date.now() - started) / 1000;
      const attempts = count(agent.stdout, "connected to the broker");
      expect(attempts - 1).toBeLessThanOrEqual(seconds); // one CONNECT a second at most
      check(
        await rig.settle(
          "gw-steal",
          "client id stolen",
          1,
          `${attempts - 1} reconnections in ${seconds.toFixed(0)} s while a thief kept the id`,
          agent,
        ),
      );
    },
  );

  it(
    "a corrupt database at start is moved aside and the agent carries on",
    { timeout: 120_000 },
    async () => {
      const file = rig.config("gw-corrupt");
      const db = rig.dbPath("gw-corrupt");
      const first = rig.startAgent(file);
      await first.waitForOutput(/connected to the broker/);
      await rig.runFor("gw-corrupt", 40, first);
      first.child.kill("SIGTERM");
      expect(await first.exited).toBe(0);
      writeFileSync(db, Buffer.alloc(64 * 1024, "garbage after a bad power cut "));
      for (const suffix of ["-wal", "-shm"])
        if (existsSync(db + suffix)) writeFileSync(db + suffix, "");
      const second = rig.startAgent(file);
      await second.waitForOutput(/outbox database was corrupt/);
      expect(readdirSync(dirname(db)).some((f) => f.startsWith("outbox.db.corrupt-"))).toBe(true);
      await rig.runFor("gw-corrupt", 40, second);
      check(
        await rig.settle(
          "gw-corrupt",
          "corrupt database at start",
          1,
          "moved aside, fresh database, seq from the wall clock",
          second,
        ),
      );
      // A critical alert says so, naming where the old file went.
      const raised = rig.monitor.alerts.filter(
        (a) =>
          a.alert.gateway_id === "gw-corrupt" &&
          a.alert.alert_type === "storage_failing" &&
          a.alert.state === "raised",
      );
      expect(raised.length).toBeGreaterThan(0);
      expect(String(raised[0]?.alert.reason)).toMatch(
        /corrupt .*moved aside to .*outbox\.db\.corrupt-/,
      );
    },
  );

  it.skipIf(root.skip)(
    "the buffer's disk fills up while the broker is away, then space returns",
    // Its waits are bounded by facts (120 s for the eviction, then a count of readings, then the
    // drain): the test's own bound must not cut them short on a busy machine, where one CI run
    // timed out at 180 s with no wait named.
    { timeout: 600_000 },
    async () => {
      const dir = rig.dataDir("gw-disk");
      mkdirSync(dir, { recursive: true });
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir]);
      try {
        // Another process's files leave the outbox about 1.5 MiB.
        const ballast = join(dir, "ballast");
        writeFileSync(ballast, Buffer.alloc(2560 * 1024));
        await rig.proxy.down();
        const agent = rig.startAgent(
          rig.config("gw-disk", { extraContainers: 18, viaProxy: true }),
        );
        await agent.waitForOutput(/disk full: evicted the oldest telemetry/, 120_000);
        await rig.runFor("gw-disk", 1000, agent); // running on a full disk (20 containers)
        expect(agent.child.exitCode).toBeNull();
        expect(agent.stdout).not.toContain("this tick's readings are lost");
        rmSync(ballast); // space returns
        await rig.proxy.up();
        check(
          await rig.settle(
            "gw-disk",
            "disk full",
            1,
            "4 MiB tmpfs, 2.5 MiB ballast, 20 containers at 10 Hz, broker away",
            agent,
          ),
        );
      } finally {
        execFileSync("umount", ["-l", dir]);
      }
    },
  );

  it.skipIf(faketime.skip)(
    "the gateway boots with its clock in 1970, then NTP steps it",
    { timeout: 180_000 },
    async () => {
      // libfaketime fakes the wall clock of the agent process only; its monotonic clock stays true.
      const clockFile = join(rig.temp.dir, "faketime");
      writeFileSync(clockFile, "@1970-01-01 00:00:00");
      const agent = rig.startAgent(rig.config("gw-clock"), {
        LD_PRELOAD: faketime.path ?? "",
        FAKETIME_TIMESTAMP_FILE: clockFile,
        FAKETIME_NO_CACHE: "1",
        FAKETIME_DONT_FAKE_MONOTONIC: "1",
      });
      // In 1970 the broker's certificate is not valid yet: no link, readings buffer.
      await agent.waitForOutput(
        /certificate is not valid yet: the gateway clock is probably wrong/,
      );
      await rig.runFor("gw-clock", 80, agent);
      writeFileSync(clockFile, "+0"); // NTP: the true time
      await agent.waitForOutput(/the wall clock is now trusted/, 30_000);
      const figures = await rig.settle(
        "gw-clock",
        "clock in 1970, then corrected",
        1,
        "libfaketime; broker certificate refused until the step",
        agent,
      );
      check(figures);
      const mine = rig.monitor.readings
        .filter((r) => r.reading.gateway_id === "gw-clock")
        .map((r) => r.reading);
      // Every reading at its true time: not left in 1970, not shifted twice into the future.
      const wrong = mine.filter(
        (r) =>
          r.clock !== "synced" ||
          Date.parse(r.measurement_time) < Date.UTC(2026, 0, 1) ||
          Date.parse(r.measurement_time) > Date.now() + 60_000,
      );
      expect(wrong).toEqual([]);
    },
  );
});
function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

function writeReliability(table: string): void {
  const file = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "RELIABILITY.md");
  const head = `# Reliability

Figures printed by the chaos suite (\`test/chaos/\`, part of \`npm test\`), from the run of
${new Date().toISOString().slice(0, 10)}, node ${process.version}, on a 2-core CI machine.
Each scenario runs the real agent process (\`reefer-edge run\`) on two simulated reefers sampling
every 100 ms, against Mosquitto with mutual TLS, with a subscriber recording every
(container_id, seq). "lost uncounted" is the seqs the outbox assigned that neither arrived nor
remain in the outbox, beyond the evictions it counted (a full disk evicts the oldest telemetry by
design; a row evicted while in flight may still arrive, so the count is an upper bound);
"duplicates" are re-sends of at-least-once delivery (bounded by the 100 messages in flight). Regenerate with \`REEFER_EDGE_WRITE_RELIABILITY=1 npx vitest run test/chaos\`.

`;
  // The section measured by `npm run test:loaded` is kept as it is.
  const previous = existsSync(file) ? readFileSync(file, "utf8") : "";
  const loaded = previous.indexOf(LOADED_SECTION);
  writeFileSync(file, `${head}${table}\n${loaded < 0 ? "" : `\n${previous.slice(loaded)}`}`);
}

const LOADED_SECTION = "## The suite on a loaded machine";
