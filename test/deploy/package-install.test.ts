import Database from "better-sqlite3";
import { chownSync, copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS, SCHEMA_VERSION } from "../../agent/outbox/database.js";
import { useMosquitto } from "../support/broker-fixture.js";
import { BootedSystem } from "../support/booted-system.js";
import { repackDeb, type BuiltPackages } from "../support/packages.js";
import { putCertificates } from "../support/releases.js";
import { sharedPackages } from "../support/shared-packages.js";
import { makeReading } from "../support/readings.js";
import { requireRoot, requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";

// A booted systemd needs root and systemd-nspawn; a missing one skips with the reason printed,
// and fails under CI (test/support/tools.ts), where .ci/run installs them.
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const nspawn = requireTool("systemd-nspawn", "apt-get install -y systemd-container");
const root = requireRoot("booting a system to install the package in");
const GATEWAY = "gw-pkg";
const CONTAINER = "MSKU1234565"; // the example config's
const TARBALL_CONTAINER = "MSKU7654321";

/**
 * What the gateway issue's "done" says, on a real systemd: a new user installs the .deb, puts a
 * config and certificates in place, enables the service and sees readings arrive; upgrades keep
 * and migrate the outbox; removing keeps the data unless purged; the tarball's install.sh does
 * the same where there is no dpkg.
 */
describe.skipIf(mosquitto.skip || nspawn.skip || root.skip)("the amd64 package on systemd", () => {
  const env = useMosquitto(mosquitto.path ?? "", [GATEWAY]);
  let system: BootedSystem | undefined;
  let built: BuiltPackages;
  /** The same package under a higher version: what an upgrade installs. */
  const upgrades: string[] = [];

  beforeAll(async () => {
    // The booted system starts as a copy of this machine's root: an agent installed or run here
    // would be in it before the package is.
    const leftovers = ["/usr/lib/reefer-edge", "/etc/reefer-edge", "/var/lib/reefer-edge"];
    const found = leftovers.filter((path) => existsSync(path));
    if (found.length > 0)
      throw new Error(`this machine has ${found.join(", ")}: the test needs it without them`);
    built = await sharedPackages("amd64");
    for (const n of [1, 2])
      upgrades.push(repackDeb(built.deb, `${built.version}+upgrade${n}`, env.temp.dir));
    system = await BootedSystem.boot(join(env.temp.dir, "system"));
    for (const file of [built.deb, built.tarball, ...upgrades])
      copyFileSync(file, join(system.root, "root", file.split("/").pop() ?? ""));
  }, 900_000);
  afterAll(async () => {
    if (system) await system.shutdown();
  }, 60_000);

  const gateway = () => {
    if (!system) throw new Error("the system did not boot");
    return system;
  };
  const inRoot = (file: string) => `/root/${file.split("/").pop() ?? ""}`;
  const state = async () =>
    (await gateway().exec(["systemctl", "is-active", "reefer-edge"])).stdout.trim();

  it("installs the user, directories and an example, and enables nothing", async () => {
    const sys = gateway();
    await sys.must(["dpkg", "-i", inRoot(built.deb)]);
    expect((await sys.must(["id", "-nG", "reefer-edge"])).split(/\s+/)).toContain("dialout");
    expect((await sys.must(["stat", "-c", "%a %U %G", "/etc/reefer-edge/certs"])).trim()).toBe(
      "750 root reefer-edge",
    );
    expect((await sys.must(["stat", "-c", "%a %U", "/var/lib/reefer-edge"])).trim()).toBe(
      "750 reefer-edge",
    );
    expect(existsSync(join(sys.root, "etc/reefer-edge/agent.yaml.example"))).toBe(true);
    expect((await sys.exec(["systemctl", "is-enabled", "reefer-edge"])).stdout.trim()).toBe(
      "disabled",
    );
    expect(await state()).toBe("inactive");
    // The unit as installed, in the system it runs on: it loads, and its sandbox scores.
    await sys.must(["systemd-analyze", "verify", "/lib/systemd/system/reefer-edge.service"]);
    const security = await sys.exec(["systemd-analyze", "security", "--no-pager", "reefer-edge"]);
    const score = /Overall exposure level for reefer-edge\.service: ([\d.]+)/.exec(
      security.stdout,
    )?.[1];
    expect(Number(score), security.stdout.slice(-1500)).toBeLessThanOrEqual(2.5);
  });

  it("upgrades a first-release outbox to this schema, backlog kept, and starts nothing", async () => {
    const sys = gateway();
    putConfig(sys, CONTAINER);
    await firstReleaseOutbox(sys);
    const upgrade = await sys.must(["dpkg", "-i", inRoot(upgrades[0] ?? "")]);
    expect(upgrade).toContain(`schema 1 -> ${SCHEMA_VERSION}`);
    expect(await state()).toBe("inactive");
  });

  it("passes the doctor, and once enabled delivers the migrated reading, then the new ones", async () => {
    const sys = gateway();
    const doctor = await sys.exec([
      "reefer-edge",
      "doctor",
      "--config",
      "/etc/reefer-edge/agent.yaml",
    ]);
    expect(doctor.status, doctor.stdout + doctor.stderr).toBe(0);
    await sys.must(["systemctl", "enable", "--now", "reefer-edge"]);
    await env.monitor
      .waitFor(() => contiguous(CONTAINER, 5), `seqs 1..5 of ${CONTAINER}`, 60_000)
      .catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n${await sys.journal("reefer-edge")}`);
      });
    // seq 1 is the reading the first release left; the agent went on from there.
    expect(env.monitor.readings.find((r) => r.reading.seq === 1)?.reading.boot_id).toBe(
      FIRST_RELEASE_BOOT,
    );
  }, 90_000);

  it("upgrades during an outage with a graceful stop and loses nothing", async () => {
    const sys = gateway();
    await env.proxy.down();
    const outbox = join(sys.root, "var/lib/reefer-edge/outbox.db");
    await waitFor("a backlog of 3 readings", () => pending(outbox) >= 3, 60_000);
    const before = (await sys.exec(["journalctl", "-u", "reefer-edge", "-o", "cat"])).stdout;
    await sys.must(["dpkg", "-i", inRoot(upgrades[1] ?? "")]);
    const stops = (text: string) => text.split("agent stopped").length - 1;
    const after = (await sys.exec(["journalctl", "-u", "reefer-edge", "-o", "cat"])).stdout;
    expect(stops(after), "the upgrade stopped the agent gracefully").toBe(stops(before) + 1);
    expect(await state()).toBe("active");
    await env.proxy.up();
    const last = Math.max(...env.monitor.seqs(CONTAINER), 0) + 3;
    await env.monitor.waitFor(
      () => contiguous(CONTAINER, last),
      `every seq of ${CONTAINER} up to ${last} after the outage`,
      90_000,
    );
  }, 180_000);

  it("keeps the outbox and the config when removed, and deletes them when purged", async () => {
    const sys = gateway();
    await sys.must(["dpkg", "-r", "reefer-edge"]);
    expect(await state()).toBe("inactive");
    expect(existsSync(join(sys.root, "var/lib/reefer-edge/outbox.db"))).toBe(true);
    expect(existsSync(join(sys.root, "etc/reefer-edge/agent.yaml"))).toBe(true);
    await sys.must(["dpkg", "-P", "reefer-edge"]);
    expect(existsSync(join(sys.root, "var/lib/reefer-edge"))).toBe(false);
    expect(existsSync(join(sys.root, "etc/reefer-edge"))).toBe(false);
    expect((await sys.exec(["id", "reefer-edge"])).status).toBe(0); // Debian keeps system users
  });

  it("installs the same service from the tarball with install.sh, and uninstalls it", async () => {
    const sys = gateway();
    await sys.must(["tar", "-xzf", inRoot(built.tarball), "-C", "/root"]);
    const dir = `/root/reefer-edge-${built.version}-linux-amd64`;
    await sys.must([`${dir}/install.sh`]);
    const unit = readFileSync(join(sys.root, "etc/systemd/system/reefer-edge.service"), "utf8");
    expect(unit).toContain("ExecStart=/opt/reefer-edge/bin/reefer-edge run");
    expect((await sys.exec(["systemctl", "is-enabled", "reefer-edge"])).stdout.trim()).toBe(
      "disabled",
    );
    putConfig(sys, TARBALL_CONTAINER);
    await sys.must(["systemctl", "enable", "--now", "reefer-edge"]);
    await env.monitor
      .waitFor(() => contiguous(TARBALL_CONTAINER, 3), `seqs 1..3 of ${TARBALL_CONTAINER}`, 60_000)
      .catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n${await sys.journal("reefer-edge")}`);
      });
    await sys.must([`${dir}/install.sh`, "--uninstall"]);
    expect(await state()).not.toBe("active");
    expect(existsSync(join(sys.root, "opt/reefer-edge"))).toBe(false);
    expect(existsSync(join(sys.root, "var/lib/reefer-edge/outbox.db"))).toBe(true);
    await sys.must([`${dir}/install.sh`, "--purge"]);
    expect(existsSync(join(sys.root, "var/lib/reefer-edge"))).toBe(false);
  }, 120_000);

  /** Every seq from 1 to `upTo` of the container has arrived. */
  function contiguous(container: string, upTo: number): boolean {
    const seqs = env.monitor.seqs(container);
    for (let seq = 1; seq <= upTo; seq++) if (!seqs.has(seq)) return false;
    return true;
  }

  /** What an operator does after installing: the example made theirs, and the certificates. */
  function putConfig(sys: BootedSystem, container: string): void {
    const etc = join(sys.root, "etc/reefer-edge");
    putCertificates(etc, env.pki.caCert, env.pki.client(GATEWAY));
    const example = readFileSync(join(etc, "agent.yaml.example"), "utf8");
    const config = example
      .replace(/url: mqtts:\/\/\S+/, `url: ${env.agentUrl}`)
      .replace("gw-0001", GATEWAY)
      .replace("intervalMs: 60000", "intervalMs: 500")
      .replace(CONTAINER, container);
    expect(config).not.toBe(example);
    writeFileSync(join(etc, "agent.yaml"), config);
  }

  /** The outbox a gateway on the first release left: schema 1, one reading not yet delivered. */
  async function firstReleaseOutbox(sys: BootedSystem): Promise<void> {
    const path = join(sys.root, "var/lib/reefer-edge/outbox.db");
    const db = new Database(path);
    db.exec(MIGRATIONS[0] ?? "");
    db.pragma("user_version = 1");
    const reading = {
      ...makeReading(CONTAINER, Date.now() - 60_000, {
        gateway_id: GATEWAY,
        boot_id: FIRST_RELEASE_BOOT,
      }),
      seq: 1,
    };
    const payload = JSON.stringify(reading);
    db.prepare("INSERT INTO sequences (container_id, last_seq) VALUES (?, 1)").run(CONTAINER);
    db.prepare(
      `INSERT INTO outbox (lane, container_id, seq, captured_at, bytes, payload)
       VALUES (1, ?, 1, ?, ?, ?)`,
    ).run(CONTAINER, Date.now() - 60_000, Buffer.byteLength(payload), payload);
    db.close();
    const uid = Number(await sys.must(["id", "-u", "reefer-edge"]));
    const gid = Number(await sys.must(["id", "-g", "reefer-edge"]));
    chownSync(path, uid, gid);
  }
});

const FIRST_RELEASE_BOOT = "11111111-1111-4111-8111-111111111111";

/** Rows waiting in an outbox, read beside the running agent (WAL lets a reader in). */
function pending(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM outbox").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The .deb again under another version (dpkg-deb -R, the version changed, dpkg-deb -b). */
