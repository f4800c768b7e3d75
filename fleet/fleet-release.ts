import { createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { signedStatement, UPDATE_OPERATION } from "../agent/update/job-document.js";
import type { ChaosEvent, FleetConfig } from "../config/fleet-schema.js";
import { ensureIdentity } from "./certificates.js";
import { fleetPackage } from "./fleet-installer.js";
import { certDir, releaseKeyFile } from "./fleet-file.js";
import { fleetIssuer } from "./fleet-services.js";
import { JOBS_SERVICE_ID, JobsService, type JobSummary } from "./jobs-service.js";

type ReleaseEvent = Extract<ChaosEvent, { kind: "release" }>;

/** How a release went through the fleet: its reach before the abort, and the way back. */
export interface ReleaseOutcome {
  readonly version: string;
  readonly behaviour: ReleaseEvent["behaviour"];
  readonly gateways: number;
  /** Gateways the rollout notified, and those that installed the release. */
  readonly notified: number;
  readonly exposed: number;
  readonly exposedPercent: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly canceled: number;
  /** Seconds from the job's creation to its abort; null if it was not aborted. */
  readonly abortedAfterSeconds: number | null;
  readonly rolledBack: number;
  /** The longest time a gateway took from its install to its rollback, seconds. */
  readonly slowestRollbackSeconds: number;
  /** Seconds from the job's creation until every execution had ended and every install settled. */
  readonly endedAfterSeconds: number | null;
}

/**
 * A release rehearsed on the fleet: the run's release key (its public half written where every
 * gateway's config names it, before the gateways start), a package server on loopback (plain
 * HTTP, which the agent allows there only), and the Jobs stand-in on the fleet's broker playing
 * AWS IoT's rollout and abort. `play` signs a simulated package, creates the job for the whole
 * fleet with the event's rollout and abort, as `reefer-edge cloud release` would, and follows it
 * to its end; each gateway's installer runs in its worker (fleet/fleet-installer.ts).
 */
export class FleetRelease {
  private constructor(private readonly key: KeyObject) {}

  /** The release key, made for this run: its public half in place before the gateways start. */
  static prepare(fleet: FleetConfig): FleetRelease {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    mkdirSync(fleet.dataDir, { recursive: true });
    writeFileSync(releaseKeyFile(fleet), publicKey.export({ type: "spki", format: "pem" }), {
      mode: 0o644,
    });
    return new FleetRelease(privateKey);
  }

  async play(
    fleet: FleetConfig,
    event: ReleaseEvent,
    broker: { url: string; ca: string | undefined },
    things: readonly string[],
    installs: () => {
      installing: number;
      installed: number;
      rolledBack: number;
      slowestRollbackMs: number;
    },
    until: (condition: () => boolean, ms: number) => Promise<boolean>,
  ): Promise<ReleaseOutcome> {
    const body = fleetPackage(event.version, event.behaviour);
    const name = `reefer-edge_${event.version}_fleet.deb`;
    const server = await servePackage(name, body);
    const issuer = await fleetIssuer(fleet);
    const files = {
      cert: join(certDir(fleet), `${JOBS_SERVICE_ID}.crt`),
      key: join(certDir(fleet), `${JOBS_SERVICE_ID}.key`),
    };
    await ensureIdentity(issuer.issuer, JOBS_SERVICE_ID, files);
    const jobs = await JobsService.start({
      brokerUrl: broker.url,
      ca: broker.ca ?? issuer.cert,
      identity: files,
      presign: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}`,
    });
    try {
      const size = body.length;
      const sha256 = createHash("sha256").update(body).digest("hex");
      const document = {
        operation: UPDATE_OPERATION,
        version: event.version,
        package: { url: `\${aws:iot:s3-presigned-url:https://releases/${name}}`, size, sha256 },
        signature: sign(
          null,
          signedStatement({ version: event.version, package: { size, sha256 } }),
          this.key,
        ).toString("base64"),
      };
      const jobId = `fleet-release-${event.version.replace(/\./g, "-")}-${Date.now()}`;
      const created = Date.now();
      jobs.createJob(jobId, document, things, {
        rollout: event.rollout,
        abort: { ...event.abort, failureTypes: ["FAILED", "TIMED_OUT"] },
      });
      const settled = (summary: JobSummary) =>
        summary.status !== "IN_PROGRESS" && summary.inProgress === 0 && summary.queued === 0;
      const ended = await until(
        () => settled(jobs.summary(jobId)) && installs().installing === 0,
        event.waitSeconds * 1000,
      );
      const summary = jobs.summary(jobId);
      const done = installs();
      // Exposed: the gateways whose installer installed it (the execution may also have failed
      // earlier, in a download).
      const exposed = done.installed;
      return {
        version: event.version,
        behaviour: event.behaviour,
        gateways: things.length,
        notified: summary.notified,
        exposed,
        exposedPercent: Math.round((exposed * 10_000) / things.length) / 100,
        succeeded: summary.succeeded,
        failed: summary.failed + summary.timedOut,
        canceled: summary.canceled,
        abortedAfterSeconds:
          summary.abortedAt === null ? null : (summary.abortedAt - created) / 1000,
        rolledBack: done.rolledBack,
        slowestRollbackSeconds: done.slowestRollbackMs / 1000,
        endedAfterSeconds: ended ? (Date.now() - created) / 1000 : null,
      };
    } finally {
      await jobs.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}

/** The package at `/<name>` on loopback, whatever the query (a pre-signed URL's token). */
async function servePackage(name: string, body: Buffer): Promise<Server> {
  const server = createServer((request, response) => {
    if (new URL(request.url ?? "/", "http://127.0.0.1").pathname !== `/${name}`) {
      response.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    if (start >= body.length) {
      response.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
      return;
    }
    response.writeHead(range ? 206 : 200, {
      "content-length": body.length - start,
      ...(range && { "content-range": `bytes ${start}-${body.length - 1}/${body.length}` }),
    });
    response.end(body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}
