import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import {
  handoffPath,
  installRequestSchema,
  readHandoff,
  soakReportSchema,
  writeDurably,
} from "../../agent/update/handoff.js";
import { validateConfig } from "../../config/load.js";
import { agentMqtt, useMosquitto } from "../support/broker-fixture.js";
import { JobsService } from "../../fleet/jobs-service.js";
import { captureLogs } from "../support/logs.js";
import { JOBS_SERVICE } from "../support/mosquitto.js";
import { ReleaseServer } from "../support/release-server.js";
import { updateDocument } from "../support/releases.js";
import { requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const GATEWAY = "gw-update";
const release = generateKeyPairSync("ed25519");
const forger = generateKeyPairSync("ed25519");

/**
 * An update job end to end on the agent's side: the Jobs stand-in on Mosquitto with mTLS, the
 * package from a stand-in for S3 with drops and an expired URL, the agent taking the job,
 * checking, deferring, downloading and handing a request to the installer. The test plays the
 * installer's part of the file contract (the real one, deploy/update, runs in a booted system:
 * test/update), starting the "new version" as a fresh agent that soaks and reports.
 */
describe.skipIf(mosquitto.skip)("an update job, on the agent's side", () => {
  const env = useMosquitto(mosquitto.path ?? "", [GATEWAY, JOBS_SERVICE]);
  let jobs: JobsService;
  let packages: ReleaseServer;
  const running: Agent[] = [];
  const stateDir = () => join(env.temp.dir, "gw", "updates");
  let keyFile = "";

  beforeAll(async () => {
    packages = await ReleaseServer.start();
    jobs = await JobsService.start({
      brokerUrl: env.broker.url,
      ca: env.pki.caCert,
      identity: env.pki.client(JOBS_SERVICE),
      // The operator's document names the bucket's object; each answer carries a fresh URL.
      presign: (url) => packages.presign(new URL(url).pathname.slice(1)),
    });
    keyFile = join(env.temp.dir, "release-key.pem");
    writeFileSync(keyFile, release.publicKey.export({ type: "spki", format: "pem" }), {
      mode: 0o644,
    });
  });
  afterAll(async () => {
    await jobs.stop();
    await packages.stop();
  });
  afterEach(async () => {
    for (const agent of running.splice(0)) await agent.stop(0);
  });

  function startAgent(
    version: string,
    update: Record<string, unknown> = {},
    rules: Record<string, unknown> = { temperature: { threshold: 18 } },
  ): Agent {
    mkdirSync(join(env.temp.dir, "gw"), { recursive: true });
    const config = validateConfig(
      {
        version: 1,
        gateway: { id: GATEWAY },
        mqtt: agentMqtt(env, GATEWAY),
        buffer: { path: join(env.temp.dir, "gw", "outbox.db") },
        sampling: { intervalMs: 200 },
        containers: [{ id: "U1", product: "P01", driver: { type: "simulated", seed: 3 } }],
        rules,
        health: { enabled: false },
        remoteConfig: { enabled: false },
        update: { enabled: true, releaseKeyFile: keyFile, ...update },
        log: { level: "warn" },
      },
      "update job test",
    );
    const agent = new Agent(config, { logger: captureLogs("fatal").logger, version });
    running.push(agent);
    agent.start();
    return agent;
  }

  let jobCount = 0;
  /** A release of `version` on the package server, and its job for the gateway. */
  function releaseJob(version: string, body: Buffer, key = release.privateKey): string {
    const name = `reefer-edge_${version}_amd64.deb`;
    packages.put(name, body);
    const jobId = `update-${++jobCount}`;
    jobs.createJob(jobId, updateDocument(version, name, body, key), [GATEWAY]);
    return jobId;
  }

  const execution = (jobId: string) => jobs.execution(GATEWAY, jobId);
  const steps = (jobId: string) =>
    (execution(jobId)?.history ?? []).map((h) => `${h.status}:${h.statusDetails.step ?? ""}`);
  const until = (what: string, condition: () => boolean) =>
    waitFor(what, condition, 60_000, { everyMs: 50 });

  it("takes a signed release through drops and an expired URL, hands it to the installer, and the new version soaks and reports SUCCEEDED", async () => {
    const body = randomBytes(2 * 1024 * 1024);
    // Three drops, and URLs that expire after one request: each resume needs a fresh URL,
    // which the agent gets by describing the job again.
    packages.setDrops(3, 300_000);
    packages.limitUses(1);
    const old = startAgent("1.0.0");
    const jobId = releaseJob("1.1.0", body);

    const request = handoffPath(stateDir(), "request");
    await until("the installer's request", () => existsSync(request));
    const handed = readHandoff(request, installRequestSchema);
    expect(handed).toMatchObject({
      jobId,
      version: "1.1.0",
      previousVersion: "1.0.0",
      soakSeconds: 600,
    });
    expect(readFileSync(handed?.package ?? "").equals(body)).toBe(true);
    const name = "/reefer-edge_1.1.0_amd64.deb";
    expect(packages.requests.filter((r) => r.path === name).map((r) => r.status)).toEqual([
      200, 403, 206, 403, 206, 403, 206,
    ]);
    packages.limitUses(Infinity);
    await until("IN_PROGRESS installing", () => steps(jobId).includes("IN_PROGRESS:installing"));
    expect(steps(jobId)).toEqual([
      "QUEUED:",
      "IN_PROGRESS:",
      "IN_PROGRESS:downloading",
      "IN_PROGRESS:installing",
    ]);

    // The installer takes the request, stops the old version and starts the new one.
    rmSync(request);
    await old.stop(0);
    running.splice(running.indexOf(old), 1);
    const fresh = startAgent("1.1.0", { stateDir: stateDir() });
    const soak = handoffPath(stateDir(), "soak");
    await until("a soak report from 1.1.0", () => existsSync(soak));
    expect(readHandoff(soak, soakReportSchema)).toMatchObject({
      jobId,
      version: "1.1.0",
      pid: process.pid,
    });
    await until("IN_PROGRESS soaking", () => steps(jobId).includes("IN_PROGRESS:soaking"));
    await until(
      "a healthy soak report",
      () => readHandoff(soak, soakReportSchema)?.healthy === true,
    );

    // The soak passed: the installer keeps the new version and says so.
    writeDurably(handoffPath(stateDir(), "result"), {
      jobId,
      outcome: "kept",
      version: "1.1.0",
      reason: "1.1.0 captured and delivered through a 600 s soak",
      finishedAt: Date.now(),
    });
    await until("SUCCEEDED", () => execution(jobId)?.status === "SUCCEEDED");
    expect(execution(jobId)?.statusDetails).toEqual({
      step: "kept",
      version: "1.1.0",
      reason: "1.1.0 captured and delivered through a 600 s soak",
    });
    // The agent's files of the job are gone; the package stays for the installer to keep.
    // (Cleared once the service accepted the status: a moment after the stand-in recorded it.)
    await until("the job's files cleared", () => !existsSync(handoffPath(stateDir(), "job")));
    expect(existsSync(soak)).toBe(false);
    expect(fresh.version).toBe("1.1.0");
  });

  it("ends a release whose installer rolled back FAILED with the reason, from the version it went back to", async () => {
    const old = startAgent("1.1.0");
    const jobId = releaseJob("1.2.0", randomBytes(50_000));
    await until("the installer's request", () => existsSync(handoffPath(stateDir(), "request")));
    rmSync(handoffPath(stateDir(), "request"));
    await old.stop(0);
    running.splice(running.indexOf(old), 1);
    writeDurably(handoffPath(stateDir(), "result"), {
      jobId,
      outcome: "rolled-back",
      version: "1.1.0",
      reason: "1.2.0 restarted 3 times in its soak: 1.1.0 reinstalled",
      finishedAt: Date.now(),
    });
    startAgent("1.1.0");
    await until("FAILED", () => execution(jobId)?.status === "FAILED");
    expect(execution(jobId)?.statusDetails).toMatchObject({
      step: "rolled-back",
      version: "1.1.0",
      reason: "1.2.0 restarted 3 times in its soak: 1.1.0 reinstalled",
    });
  });

  it("refuses a release signed by another key, downloading nothing", async () => {
    startAgent("1.1.0");
    const before = packages.requests.length;
    const jobId = releaseJob("6.6.6", randomBytes(1000), forger.privateKey);
    await until("FAILED", () => execution(jobId)?.status === "FAILED");
    expect(execution(jobId)?.statusDetails).toEqual({
      step: "refused",
      reason: "job document refused: signature: not made by the release key for version 6.6.6",
    });
    expect(packages.requests.length).toBe(before);
  });

  it("ends a job for the version already running SUCCEEDED at once", async () => {
    startAgent("1.1.0");
    const jobId = releaseJob("1.1.0", randomBytes(1000));
    await until("SUCCEEDED", () => execution(jobId)?.status === "SUCCEEDED");
    expect(execution(jobId)?.statusDetails.reason).toBe("1.1.0 is already running");
  });

  it("defers while an excursion is open, saying why, and goes ahead once the window is over", async () => {
    // A limit under any simulated temperature: an excursion is open from the first readings.
    const agent = startAgent("1.1.0", { deferMaxMinutes: 0 }, { temperature: { threshold: -60 } });
    await until("readings over the limit", () => agent.metrics.get("readings_captured") >= 3);
    const jobId = releaseJob("1.4.0", randomBytes(1000));
    await until("the installer's request", () => existsSync(handoffPath(stateDir(), "request")));
    rmSync(handoffPath(stateDir(), "request"));
    expect(steps(jobId)).toEqual([
      "QUEUED:",
      "IN_PROGRESS:",
      "IN_PROGRESS:deferred",
      "IN_PROGRESS:downloading",
      "IN_PROGRESS:installing",
    ]);
    expect(execution(jobId)?.history[2]?.statusDetails.reason).toBe("an excursion is open in U1");
    jobs.cancelJob(jobId);
  });

  it("stops working on a job the operator cancelled, and ignores what is not the Jobs API's", async () => {
    const agent = startAgent("1.1.0", { maxBytesPerSecond: 8192 });
    const jobId = releaseJob("1.3.0", randomBytes(512 * 1024));
    await until("downloading", () => steps(jobId).includes("IN_PROGRESS:downloading"));
    jobs.cancelJob(jobId);
    // Garbage on the gateway's own job topics: named in the metrics, the agent runs on.
    const { cert, key } = env.pki.client(JOBS_SERVICE);
    const rogue = await mqtt.connectAsync(env.broker.url, {
      ca: readFileSync(env.pki.caCert),
      cert: readFileSync(cert),
      key: readFileSync(key),
      clientId: "rogue-jobs",
    });
    try {
      await rogue.publishAsync(`$aws/things/${GATEWAY}/jobs/notify-next`, "{not json", { qos: 1 });
      await rogue.publishAsync(
        `$aws/things/${GATEWAY}/jobs/start-next/accepted`,
        JSON.stringify({
          execution: { jobId: "../../x", status: "IN_PROGRESS", versionNumber: 1 },
        }),
        { qos: 1 },
      );
    } finally {
      await rogue.endAsync();
    }
    await until("two refused messages", () => agent.metrics.get("jobs_messages_refused") >= 2);
    // The next status the agent sends is refused (the job is CANCELED): it stops and clears up.
    await until("the job file cleared", () => !existsSync(handoffPath(stateDir(), "job")));
    expect(execution(jobId)?.status).toBe("CANCELED");
    expect(existsSync(handoffPath(stateDir(), "request"))).toBe(false);
  });
});
