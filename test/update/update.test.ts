import Database from "better-sqlite3";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCHEMA_VERSION } from "../../agent/outbox/database.js";
import { signedStatement } from "../../agent/update/job-document.js";
import { useMosquitto } from "../support/broker-fixture.js";
import { BootedSystem } from "../support/booted-system.js";
import { JobsService } from "../../fleet/jobs-service.js";
import { JOBS_SERVICE } from "../support/mosquitto.js";
import { repackDeb, type BuiltPackages } from "../support/packages.js";
import { ReleaseServer } from "../support/release-server.js";
import { putCertificates, updateDocument } from "../support/releases.js";
import { sharedPackages } from "../support/shared-packages.js";
import { requireRoot, requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";

// A booted systemd needs root and systemd-nspawn; a missing one skips with the reason printed,
// and fails under CI (test/support/tools.ts), where .ci/run installs them.
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const nspawn = requireTool("systemd-nspawn", "apt-get install -y systemd-container");
const openssl = requireTool("openssl", "apt-get install -y openssl");
const root = requireRoot("booting a system to update the package in");
const GATEWAY = "gw-ota";
const CONTAINER = "MSKU1234565"; // the example config's
const INTERVAL_MS = 1000;
const SOAK_SECONDS = 10;

/**
 * Updates over the air on a real systemd and dpkg: the packaged agent takes jobs from the Jobs
 * stand-in, downloads from a stand-in for S3, and hands each release to the packaged installer
 * (reefer-edge-update.path and .service), which installs, soaks, and keeps it or reinstalls the
 * previous version by itself. Good and bad releases are the built package repacked: one that
 * will not start, one whose postinst fails, one that hangs, one that leaks memory. Each ends on
 * a working version with the job's status and reason, and no reading is lost or given a seq twice.
 */
describe.skipIf(mosquitto.skip || nspawn.skip || openssl.skip || root.skip)(
  "updates over the air on a booted system",
  () => {
    const env = useMosquitto(mosquitto.path ?? "", [GATEWAY, JOBS_SERVICE]);
    const releaseKey = generateKeyPairSync("ed25519");
    let system: BootedSystem | undefined;
    let built: BuiltPackages;
    let jobs: JobsService;
    let packages: ReleaseServer;
    const timings: string[] = [];
    /** What beforeAll started, stopped in reverse whatever happened. */
    const stops: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      const leftovers = ["/usr/lib/reefer-edge", "/etc/reefer-edge", "/var/lib/reefer-edge"];
      const found = leftovers.filter((path) => existsSync(path));
      if (found.length > 0)
        throw new Error(`this machine has ${found.join(", ")}: the test needs it without them`);
      built = await sharedPackages("amd64");
      packages = await ReleaseServer.start();
      stops.push(() => packages.stop());
      jobs = await JobsService.start({
        brokerUrl: env.broker.url,
        ca: env.pki.caCert,
        identity: env.pki.client(JOBS_SERVICE),
        presign: (url) => packages.presign(new URL(url).pathname.slice(1)),
      });
      stops.push(() => jobs.stop());
      system = await BootedSystem.boot(join(env.temp.dir, "system"));
      const sys = system;
      copyFileSync(built.deb, join(sys.root, "root", basename(built.deb)));
      await sys.must(["dpkg", "-i", `/root/${basename(built.deb)}`]);
      putConfig(sys);
      await sys.must(["systemctl", "daemon-reload"]);
      await sys.must(["systemctl", "enable", "--now", "reefer-edge"]);
      await env.monitor
        .waitFor(() => contiguous(3), `seqs 1..3 of ${CONTAINER}`, 90_000)
        .catch(async (error: unknown) => {
          throw new Error(`${String(error)}\n${await sys.journal("reefer-edge")}`);
        });
    }, 900_000);
    afterAll(async () => {
      if (timings.length > 0) console.log(`updates on a booted system:\n  ${timings.join("\n  ")}`);
      await system?.shutdown();
      for (const stop of stops.reverse()) await stop();
    }, 120_000);

    const gateway = () => {
      if (!system) throw new Error("the system did not boot");
      return system;
    };

    /** The operator's config: the example, this test's broker, updates on, a short soak. */
    function putConfig(sys: BootedSystem): void {
      const etc = join(sys.root, "etc/reefer-edge");
      putCertificates(etc, env.pki.caCert, env.pki.client(GATEWAY));
      writeFileSync(
        join(etc, "release-key.pem"),
        releaseKey.publicKey.export({ type: "spki", format: "pem" }),
        { mode: 0o644 },
      );
      const example = readFileSync(join(etc, "agent.yaml.example"), "utf8");
      const config = example
        .replace(/url: mqtts:\/\/\S+/, `url: mqtts://127.0.0.1:${env.broker.port}`)
        .replace("gw-0001", GATEWAY)
        .replace("intervalMs: 60000", `intervalMs: ${INTERVAL_MS}`);
      writeFileSync(
        join(etc, "agent.yaml"),
        `${config}update: { enabled: true, soakSeconds: ${SOAK_SECONDS}, soakMaxMemoryMiB: 192, pollSeconds: 1 }\n`,
      );
      // The installer's pace, for a test: it looks every second, and a silent agent is a hang
      // after 45 s (a Pi's defaults: every 5 s, and 120 s).
      const dropIn = join(sys.root, "etc/systemd/system/reefer-edge-update.service.d");
      mkdirSync(dropIn, { recursive: true });
      writeFileSync(
        join(dropIn, "test.conf"),
        "[Service]\nEnvironment=REEFER_EDGE_UPDATE_POLL=1 REEFER_EDGE_UPDATE_GRACE=45 REEFER_EDGE_UPDATE_STALE=30 REEFER_EDGE_UPDATE_UNHEALTHY=20\n",
      );
    }

    function contiguous(upTo: number): boolean {
      const seqs = env.monitor.seqs(CONTAINER);
      for (let seq = 1; seq <= upTo; seq++) if (!seqs.has(seq)) return false;
      return true;
    }
    const newest = () => Math.max(0, ...env.monitor.seqs(CONTAINER));

    let jobCount = 0;
    /** `version` released: the built package repacked (changed by `change`), signed, a job made. */
    function release(version: string, change?: (tree: string) => void): string {
      const deb = repackDeb(built.deb, version, env.temp.dir, change);
      const body = readFileSync(deb);
      const name = basename(deb);
      packages.put(name, body);
      const jobId = `ota-${++jobCount}`;
      jobs.createJob(jobId, updateDocument(version, name, body, releaseKey.privateKey), [GATEWAY]);
      return jobId;
    }

    /** A line run first by the release's launcher (bin/reefer-edge), before it starts Node. */
    function prependToLauncher(tree: string, line: string): void {
      const launcher = join(tree, "usr/lib/reefer-edge/bin/reefer-edge");
      const [shebang, ...rest] = readFileSync(launcher, "utf8").split("\n");
      writeFileSync(launcher, [shebang, line, ...rest].join("\n"));
    }

    async function installed(): Promise<string> {
      return (await gateway().must(["dpkg-query", "-W", "-f=${Version}", "reefer-edge"])).trim();
    }

    /** Waits for the job to end (5 minutes at most, as the issue allows a bad release). */
    async function ended(
      jobId: string,
    ): Promise<{ status: string; details: Record<string, string> }> {
      const started = Date.now();
      const sys = gateway();
      await waitFor(
        `job ${jobId} to end`,
        () => ["SUCCEEDED", "FAILED"].includes(jobs.execution(GATEWAY, jobId)?.status ?? ""),
        300_000,
        { everyMs: 200 },
      ).catch(async (error: unknown) => {
        const history = JSON.stringify(jobs.execution(GATEWAY, jobId)?.history);
        throw new Error(
          `${String(error)}: ${history}\n${await sys.journal("reefer-edge-update")}\n${await sys.journal("reefer-edge")}`,
        );
      });
      const execution = jobs.execution(GATEWAY, jobId);
      timings.push(
        `${jobId}: ${execution?.status} in ${((Date.now() - started) / 1000).toFixed(0)} s: ${execution?.statusDetails.reason}`,
      );
      return { status: execution?.status ?? "", details: execution?.statusDetails ?? {} };
    }

    /** The agent of `version` runs and delivers readings newer than any before. */
    async function deliversOn(version: string): Promise<void> {
      expect(await installed()).toBe(version);
      const after = newest() + 3;
      await env.monitor.waitFor(
        () => contiguous(after),
        `every seq of ${CONTAINER} up to ${after} on ${version}`,
        120_000,
      );
    }

    const base = () => built.version;

    it("installs a good release, soaks it, keeps it and reports SUCCEEDED, losing no reading", async () => {
      const good = `${base()}+ota1`;
      const before = newest();
      const jobId = release(good);
      const outcome = await ended(jobId);
      expect(outcome).toEqual({
        status: "SUCCEEDED",
        details: {
          step: "kept",
          version: good,
          reason: expect.stringMatching(
            new RegExp(
              `^${good.replace(/[+.]/g, "\\$&")} captured \\d+ readings, healthy and with no restart, through a ${SOAK_SECONDS} s soak$`,
            ),
          ) as string,
        },
      });
      await deliversOn(good);
      expect(newest()).toBeGreaterThan(before);
      // The capture gap across the install: the widest step between two readings' times.
      const times = env.monitor.readings
        .filter((r) => r.reading.container_id === CONTAINER && r.reading.seq > before - 2)
        .map((r) => Date.parse(r.reading.measurement_time))
        .sort((a, b) => a - b);
      const gap = Math.max(...times.slice(1).map((t, i) => t - (times[i] ?? t)));
      timings.push(`capture gap across the install of ${good}: ${(gap / 1000).toFixed(1)} s`);
      // Reported, not asserted: the gap is wall time in an emulated guest on a shared machine
      // (one CI run measured 2.1 s beside a busy core, against about one interval when calm).
      // What must hold is asserted above: every seq delivered, none twice.
      // The installer kept both packages: the one running and the way back.
      const kept = await gateway().must(["ls", "/var/lib/reefer-edge-update/packages"]);
      expect(kept.split(/\s+/).filter(Boolean).sort()).toEqual(
        [`reefer-edge_${base()}.deb`, `reefer-edge_${good}.deb`].sort(),
      );
    }, 600_000);

    it("rolls back a release that migrates the outbox and then does not start; the previous version opens the migrated outbox", async () => {
      const running = await installed();
      const jobId = release(`${base()}+broken1`, (tree) => {
        // A new schema step, additive (a table): its postinst migrates the outbox to it.
        const database = join(tree, "usr/lib/reefer-edge/dist/agent/outbox/database.js");
        const code = readFileSync(database, "utf8");
        const marker = "export const SCHEMA_VERSION = MIGRATIONS.length;";
        expect(code).toContain(marker);
        writeFileSync(
          database,
          code.replace(
            marker,
            `MIGRATIONS.push("CREATE TABLE release_probe (x INTEGER) STRICT;");\n${marker}`,
          ),
        );
        // It installs (its postinst migrates the outbox), then the agent exits at every start.
        prependToLauncher(
          tree,
          `[ "$1" = run ] && { echo 'this release does not start' >&2; exit 1; }`,
        );
      });
      const outcome = await ended(jobId);
      expect(outcome.status).toBe("FAILED");
      expect(outcome.details).toMatchObject({ step: "rolled-back", version: running });
      // Where it fails is a race of systemd's, not the installer's: with Type=exec, postinst's
      // `systemctl restart` returns once the launcher is exec'd, unless the launcher has already
      // exited by then, and then the restart (so dpkg) fails. Either way the outbox was migrated
      // first (postinst migrates before it restarts), which is what this case is about.
      expect(outcome.details.reason).toMatch(
        /restarted \d+ times in its soak|did not install: Job for reefer-edge\.service failed/,
      );
      await deliversOn(running);
      // The outbox stays at the newer schema, which the previous version uses as it is.
      const outbox = new Database(join(gateway().root, "var/lib/reefer-edge/outbox.db"), {
        readonly: true,
      });
      try {
        expect(outbox.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION + 1);
      } finally {
        outbox.close();
      }
    }, 600_000);

    it("rolls back a release whose postinst fails", async () => {
      const running = await installed();
      const jobId = release(`${base()}+broken2`, (tree) => {
        const postinst = join(tree, "DEBIAN/postinst");
        const text = readFileSync(postinst, "utf8").split("\n");
        text.splice(1, 0, "echo 'postinst of a broken release' >&2; exit 1");
        writeFileSync(postinst, text.join("\n"));
      });
      const outcome = await ended(jobId);
      expect(outcome.status).toBe("FAILED");
      expect(outcome.details.reason).toMatch(/did not install/);
      expect(outcome.details.version).toBe(running);
      await deliversOn(running);
    }, 600_000);

    it("rolls back a release that hangs without a word", async () => {
      const running = await installed();
      const jobId = release(`${base()}+broken3`, (tree) => {
        // It installs, then the agent hangs before its first word.
        prependToLauncher(tree, `[ "$1" = run ] && exec sleep infinity`);
      });
      const outcome = await ended(jobId);
      expect(outcome.status).toBe("FAILED");
      expect(outcome.details.reason).toMatch(/reported no health/);
      await deliversOn(running);
    }, 600_000);

    it("rolls back a release that stops publishing 30 s after its start", async () => {
      const running = await installed();
      // A soak that outlasts the 30 s: the old agent hands the installer its configured soak.
      await withSoak(90, async () => {
        const jobId = release(`${base()}+broken5`, (tree) => {
          // Its publisher stops 30 s into the process's life: readings pile up in the outbox
          // while the link stays up.
          const publisher = join(tree, "usr/lib/reefer-edge/dist/agent/publisher/publisher.js");
          const code = readFileSync(publisher, "utf8");
          expect(code).toContain("    pump() {");
          writeFileSync(
            publisher,
            code.replace(
              "    pump() {",
              "    pump() {\n        if (performance.now() > 30_000) return;",
            ),
          );
        });
        const outcome = await ended(jobId);
        expect(outcome.status).toBe("FAILED");
        expect(outcome.details.reason).toMatch(/is connected but delivered nothing for \d+ s/);
      });
      await deliversOn(running);
    }, 600_000);

    /** Runs `body` with the agent's soak at `seconds` (its config changed, the agent restarted). */
    async function withSoak(seconds: number, body: () => Promise<void>): Promise<void> {
      const sys = gateway();
      const file = join(sys.root, "etc/reefer-edge/agent.yaml");
      const config = readFileSync(file, "utf8");
      const setting = `soakSeconds: ${SOAK_SECONDS},`;
      expect(config).toContain(setting);
      writeFileSync(file, config.replace(setting, `soakSeconds: ${seconds},`));
      await sys.must(["systemctl", "restart", "reefer-edge"]);
      try {
        await body();
      } finally {
        writeFileSync(file, config);
        await sys.must(["systemctl", "restart", "reefer-edge"]);
      }
    }

    it("rolls back a release whose memory grows past the soak's limit", async () => {
      const running = await installed();
      const jobId = release(`${base()}+broken4`, (tree) => {
        // A leak: 8 MiB more held every 100 ms, from the agent's first moment.
        writeFileSync(
          join(tree, "usr/lib/reefer-edge/leak.cjs"),
          "const held = []; setInterval(() => held.push(Buffer.alloc(8 << 20, 1)), 100).unref();\n",
        );
        const launcher = join(tree, "usr/lib/reefer-edge/bin/reefer-edge");
        writeFileSync(
          launcher,
          readFileSync(launcher, "utf8").replace(
            'exec "$node" "$here/../dist/commands/cli.js"',
            'exec "$node" --require "$here/../leak.cjs" "$here/../dist/commands/cli.js"',
          ),
        );
      });
      const outcome = await ended(jobId);
      expect(outcome.status).toBe("FAILED");
      expect(outcome.details.reason).toMatch(/used \d+ MiB, past its soak's limit of 192 MiB/);
      await deliversOn(running);
    }, 600_000);

    it("refuses, in the installer itself, a request whose package is not the release key's", async () => {
      // A compromised agent (or anyone who can write its state folder) cannot install a package:
      // root checks the signature again.
      const sys = gateway();
      const running = await installed();
      const forged = repackDeb(built.deb, `${base()}+forged`, env.temp.dir);
      const body = readFileSync(forged);
      const state = join(sys.root, "var/lib/reefer-edge/updates");
      const version = `${base()}+forged`;
      copyFileSync(forged, join(state, `reefer-edge_${version}.deb`));
      const other = generateKeyPairSync("ed25519");
      const signed = {
        version,
        package: { size: body.length, sha256: createHash("sha256").update(body).digest("hex") },
      };
      writeFileSync(
        join(state, "request.json"),
        `${JSON.stringify({
          jobId: "forged-1",
          version,
          package: `/var/lib/reefer-edge/updates/reefer-edge_${version}.deb`,
          sha256: signed.package.sha256,
          size: body.length,
          signature: sign(null, signedStatement(signed), other.privateKey).toString("base64"),
          previousVersion: running,
          soakSeconds: 10,
          maxRssBytes: 1 << 30,
          requestedAt: Date.now(),
        })}\n`,
      );
      const result = join(state, "result.json");
      await waitFor(
        "the installer's answer",
        () => existsSync(result) && readFileSync(result, "utf8").includes("forged-1"),
        120_000,
      );
      expect(JSON.parse(readFileSync(result, "utf8"))).toMatchObject({
        jobId: "forged-1",
        outcome: "refused",
        version: running,
        reason: `the signature is not the release key's (/etc/reefer-edge/release-key.pem) for ${version}`,
      });
      expect(await installed()).toBe(running);
    }, 300_000);

    it("lost no reading and gave no seq to two readings through every update", () => {
      const bySeq = new Map<number, string>();
      const conflicts: number[] = [];
      for (const { reading } of env.monitor.readings) {
        if (reading.container_id !== CONTAINER) continue;
        const seen = bySeq.get(reading.seq);
        if (seen !== undefined && seen !== reading.measurement_time) conflicts.push(reading.seq);
        bySeq.set(reading.seq, reading.measurement_time);
      }
      expect(conflicts).toEqual([]);
      expect(contiguous(newest())).toBe(true);
    });
  },
);
