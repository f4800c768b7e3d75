import { generateKeyPairSync, type KeyPairKeyObjectResult } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { JobsService, type Execution } from "../../../fleet/jobs-service.js";
import { JOBS_SERVICE } from "../../support/mosquitto.js";
import { repackDeb } from "../../support/packages.js";
import type { TestPki } from "../../support/pki.js";
import { ReleaseServer } from "../../support/release-server.js";
import { updateDocument } from "../../support/releases.js";
import { HOST_FROM_GUEST } from "./guest-image.js";

/** A release the rig can send: its version and its job document's parts. */
interface Release {
  readonly version: string;
  readonly name: string;
  readonly body: Buffer;
}

/**
 * What the cloud is to a guest during its updates: the Jobs stand-in on the rig's broker, a
 * stand-in for S3 over HTTPS on the host (the guest reaches it as 10.0.2.2, with the broker's
 * certificate, which names that address), a release key, and two releases of the same build:
 * the version installed, and that build repacked under a second version. The rig updates back
 * and forth between them, so the installer always finds the way back already kept.
 */
export class GuestReleases {
  private jobCount = 0;

  private constructor(
    readonly jobs: JobsService,
    private readonly server: ReleaseServer,
    private readonly key: KeyPairKeyObjectResult,
    private readonly releases: readonly [Release, Release],
  ) {}

  static async start(options: {
    brokerUrl: string;
    pki: TestPki;
    deb: string;
    version: string;
    workDir: string;
  }): Promise<GuestReleases> {
    const key = generateKeyPairSync("ed25519");
    const server = await ReleaseServer.start(
      {},
      { ...options.pki.server, urlHost: HOST_FROM_GUEST },
    );
    try {
      const jobs = await JobsService.start({
        brokerUrl: options.brokerUrl,
        ca: options.pki.caCert,
        identity: options.pki.client(JOBS_SERVICE),
        presign: (url) => server.presign(new URL(url).pathname.slice(1)),
      });
      const second = repackDeb(options.deb, `${options.version}+guest1`, options.workDir);
      const releases: [Release, Release] = [
        { version: options.version, name: basename(options.deb), body: readFileSync(options.deb) },
        {
          version: `${options.version}+guest1`,
          name: basename(second),
          body: readFileSync(second),
        },
      ];
      for (const release of releases) server.put(release.name, release.body);
      return new GuestReleases(jobs, server, key, releases);
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  /** The public half, as the gateway holds it. */
  get publicKeyPem(): string {
    return this.key.publicKey.export({ type: "spki", format: "pem" }).toString();
  }

  /** The version that is not `running`: the next update's target. */
  other(running: string): string {
    const [first, second] = this.releases;
    return running === first.version ? second.version : first.version;
  }

  /** A job that updates `thing` to `version`; its id. */
  release(thing: string, version: string): string {
    const release = this.releases.find((r) => r.version === version);
    if (!release) throw new Error(`no release ${version}`);
    const jobId = `guest-ota-${++this.jobCount}`;
    this.jobs.createJob(
      jobId,
      updateDocument(version, release.name, release.body, this.key.privateKey),
      [thing],
    );
    return jobId;
  }

  execution(thing: string, jobId: string): Execution | undefined {
    return this.jobs.execution(thing, jobId);
  }

  async stop(): Promise<void> {
    await this.jobs.stop();
    await this.server.stop();
  }
}
