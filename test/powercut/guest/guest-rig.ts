import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Monitor } from "../../support/monitor.js";
import { JOBS_SERVICE, MONITOR, MosquittoBroker } from "../../support/mosquitto.js";
import { makePki } from "../../support/pki.js";
import { makeTempDir } from "../../support/tmp.js";
import { waitFor } from "../../support/wait-for.js";
import { judge, keyOf, readCapturedReport, type CutRecord, type Verdict } from "../verdict.js";
import { Guest } from "./guest.js";
import {
  configureGateway,
  findGuestKernel,
  HOST_FROM_GUEST,
  makeGuestDisks,
  makeGuestRoot,
  prepareUpdates,
  type GuestDisks,
  type GuestKernel,
} from "./guest-image.js";
import { GuestReleases } from "./guest-releases.js";
import { UpdateCuts, type UpdateCutRecord, type UpdatePhase } from "./update-cuts.js";

export interface GuestRigOptions {
  readonly qemu: string;
  readonly mosquitto: string;
  /** The amd64 .deb the guest installs, and its version. */
  readonly deb: string;
  readonly version: string;
  readonly seed: number;
  /** Updates over the air on, with this soak: `updateCycle` cuts the power during them. */
  readonly updates?: { readonly soakSeconds: number };
}

const GATEWAY = "gw-guest";
const CONTAINERS = ["G01", "G02", "G03"];
/** The agent's first log line after a start (agent/agent.ts). */
const STARTING = '"msg":"agent starting"';
const CORRUPT = "outbox database was corrupt";
/** Guards against a hang: a boot under TCG takes about 25 s to the agent on an idle core. */
const BOOT_DEADLINE_MS = 240_000;

/**
 * The whole-system power-cut rig: a Debian guest under qemu, booted from its own disk with the
 * agent installed from the .deb and run by systemd as on a gateway, its outbox on a second
 * virtio disk. Each cycle powers the guest on, waits for the agent to capture a random number of
 * readings, and kills qemu (a power cut). The observers stay outside the guest: Mosquitto's
 * monitoring subscriber on the host, and the captured report the guest writes to its second
 * serial port, a file on the host. `settle` powers on once more, waits until everything
 * reported captured has arrived, and judges (test/powercut/verdict.ts).
 */
export class GuestPowerCutRig {
  private readonly records: CutRecord[] = [];
  private readonly failedStarts: string[] = [];
  private recoveries = 0;
  private readonly random: () => number;
  private readonly updateCuts: UpdateCuts | null;

  private constructor(
    private readonly options: GuestRigOptions,
    private readonly temp: ReturnType<typeof makeTempDir>,
    private readonly kernel: GuestKernel,
    private readonly disks: GuestDisks,
    private readonly broker: MosquittoBroker,
    readonly monitor: Monitor,
    private readonly releases: GuestReleases | null,
  ) {
    const generator = xoroshiro128plus(options.seed);
    this.random = () => uniformFloat64(generator);
    this.updateCuts = releases
      ? new UpdateCuts({
          releases,
          thing: GATEWAY,
          installed: options.version,
          random: this.random,
          boot: () => this.boot(),
          agentStarted: (guest) => this.agentStarted(guest),
          checkGuest: (guest) => this.checkGuest(guest),
          captured: () => this.capturedCount(),
          countRecoveries: (guest) => this.countStarts(guest, { restartsExpected: true }),
        })
      : null;
  }

  /** The broker and its monitor on the host, then the guest's disks (a minute or two). */
  static async start(options: GuestRigOptions): Promise<GuestPowerCutRig> {
    const kernel = findGuestKernel();
    if (typeof kernel === "string") throw new Error(`the guest rig: ${kernel}`);
    const temp = makeTempDir("reefer-edge-guest-");
    const dir = join(temp.dir, "broker");
    mkdirSync(dir);
    const pki = makePki(dir, [GATEWAY, MONITOR, JOBS_SERVICE], [`IP:${HOST_FROM_GUEST}`]);
    const broker = await MosquittoBroker.start(options.mosquitto, dir, pki);
    const monitor = await Monitor.connect(broker.url, pki.caCert, pki.client(MONITOR));
    let releases: GuestReleases | null = null;
    try {
      if (options.updates) {
        releases = await GuestReleases.start({
          brokerUrl: broker.url,
          pki,
          deb: options.deb,
          version: options.version,
          workDir: temp.dir,
        });
      }
      const root = await makeGuestRoot(join(temp.dir, "image"), options.deb);
      configureGateway(root, {
        id: GATEWAY,
        brokerPort: broker.port,
        caCert: pki.caCert,
        ...pki.client(GATEWAY),
        containers: CONTAINERS,
        intervalMs: 250,
        ...(options.updates && { update: options.updates }),
      });
      if (releases) {
        prepareUpdates(root, {
          releaseKeyPem: releases.publicKeyPem,
          deb: options.deb,
          version: options.version,
        });
      }
      const disks = await makeGuestDisks(root, temp.dir);
      return new GuestPowerCutRig(options, temp, kernel, disks, broker, monitor, releases);
    } catch (error) {
      await releases?.stop();
      await monitor.close();
      await broker.stop();
      temp.cleanup();
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.releases?.stop();
    await this.monitor.close();
    await this.broker.stop();
    this.temp.cleanup();
  }

  get cuts(): readonly CutRecord[] {
    return this.records;
  }

  /** The updates the power was cut in, and how each ended. */
  get updates(): readonly UpdateCutRecord[] {
    return this.updateCuts?.records ?? [];
  }

  /**
   * An update job with a power cut in each of `phases` (test/powercut/guest/update-cuts.ts), then
   * the boot that must end it with the agent of the version its status names running, and a
   * quiet cut. Every boot's cut counts among the rig's cuts, and its readings in the verdict.
   */
  async updateJob(phases: readonly UpdatePhase[]): Promise<UpdateCutRecord> {
    if (!this.updateCuts) throw new Error("the rig was started without updates");
    const record = await this.updateCuts.job(phases);
    for (let i = 0; i <= record.cuts.length; i++)
      this.records.push({
        point: "update",
        cutAt: "qemu killed",
        reached: true,
        firstPublishMs: null,
      });
    return record;
  }

  private get reportPath(): string {
    return join(this.temp.dir, "captured.jsonl");
  }

  private boot(): Guest {
    return Guest.boot({
      qemu: this.options.qemu,
      kernel: this.kernel,
      disks: this.disks,
      console: join(this.temp.dir, "console.log"),
      report: this.reportPath,
    });
  }

  /**
   * One power-on, the agent's start by systemd, a random number of captured readings (3 to 40:
   * a cut lands among commits, background syncs, publishes and acknowledgements alike), the cut.
   */
  async cycle(): Promise<CutRecord> {
    const guest = this.boot();
    const before = this.monitor.readings.length;
    const atBoot = this.capturedCount();
    let firstPublishMs: number | null = null;
    try {
      const startedAt = await this.agentStarted(guest);
      const want = atBoot + 3 + Math.floor(this.random() * 38);
      await waitFor(
        `${want - atBoot} readings captured in the guest`,
        () => {
          if (firstPublishMs === null && this.monitor.readings.length > before)
            firstPublishMs = Date.now() - startedAt;
          this.checkGuest(guest);
          return this.capturedCount() >= want;
        },
        BOOT_DEADLINE_MS,
        { detail: () => guest.console().slice(-1500) },
      );
    } finally {
      await guest.cut();
    }
    this.countStarts(guest);
    const record: CutRecord = {
      point: "random",
      cutAt: "qemu killed",
      reached: true,
      firstPublishMs,
    };
    this.records.push(record);
    return record;
  }

  /** Powers on once more until everything reported captured has arrived, then judges. */
  async settle(): Promise<Verdict> {
    const guest = this.boot();
    const wanted = () => new Set(readCapturedReport(this.reportPath).map(([key]) => key));
    const delivered = () => new Set(this.monitor.readings.map((r) => keyOf(r.reading)));
    const missing = () => {
      const have = delivered();
      return [...wanted()].filter((k) => !have.has(k));
    };
    let diagnosis = "";
    try {
      await this.agentStarted(guest);
      await waitFor(
        "every reading reported captured at the broker",
        () => {
          this.checkGuest(guest);
          return missing().length === 0;
        },
        BOOT_DEADLINE_MS,
      ).catch(() => {
        diagnosis = `${missing().length} not delivered; the console said:\n${guest.console().slice(-2000)}`;
      });
    } finally {
      await guest.cut();
    }
    this.countStarts(guest);
    return judge({
      gateways: [GATEWAY],
      delivered: this.monitor.readings.map((r) => r.reading),
      captured: readCapturedReport(this.reportPath),
      cuts: this.records,
      recoveries: this.recoveries,
      failedStarts: this.failedStarts,
      diagnosis,
    });
  }

  /** Waits for the agent's first log line of this boot; the time it was seen. */
  private async agentStarted(guest: Guest): Promise<number> {
    await waitFor(
      "the agent started by systemd in the guest",
      () => {
        this.checkGuest(guest);
        return guest.console().includes(STARTING);
      },
      BOOT_DEADLINE_MS,
      { detail: () => guest.console().slice(-1500) },
    );
    return Date.now();
  }

  private checkGuest(guest: Guest): void {
    if (!guest.running)
      throw new Error(`the guest stopped by itself:\n${guest.console().slice(-1500)}`);
  }

  /**
   * More than one start in a boot is systemd restarting an agent that exited: a failed start
   * (except in an update, whose install and rollback restart the agent).
   */
  private countStarts(guest: Guest, options: { restartsExpected?: boolean } = {}): void {
    const text = guest.console();
    const starts = text.split(STARTING).length - 1;
    if (starts > 1 && options.restartsExpected !== true)
      this.failedStarts.push(
        `boot ${this.records.length + 1}: the agent started ${starts} times:\n${text.slice(-1500)}`,
      );
    this.recoveries += text.split(CORRUPT).length - 1;
  }

  private capturedCount(): number {
    return readCapturedReport(this.reportPath).length;
  }
}
