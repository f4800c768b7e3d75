import { spawn } from "node:child_process";
import {
  copyFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/** The host's Debian kernel and its initrd (linux-image-amd64), which the guest boots. */
export interface GuestKernel {
  readonly kernel: string;
  readonly initrd: string;
}

/** A gateway's identity and broker, as the guest's agent.yaml names them. */
export interface GuestGateway {
  readonly id: string;
  /** The broker's port on the host: the guest reaches it as 10.0.2.2 (qemu's user network). */
  readonly brokerPort: number;
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
  /** Simulated containers the agent reads, and how often. */
  readonly containers: readonly string[];
  readonly intervalMs: number;
  /** Updates over the air on, with this soak (the installer's pace is set by `prepareUpdates`). */
  readonly update?: { readonly soakSeconds: number };
}

/** The guest's two disks: the root file system, and the outbox's own (as on a gateway's card). */
export interface GuestDisks {
  readonly root: string;
  readonly outbox: string;
}

/** Where a host sees itself from inside qemu's user-mode network. */
export const HOST_FROM_GUEST = "10.0.2.2";

/** The kernel and initrd in /boot, or what is missing. */
export function findGuestKernel(): GuestKernel | string {
  if (!existsSync("/boot")) return "no /boot (apt-get install -y linux-image-amd64)";
  const files = readdirSync("/boot");
  const kernel = files
    .filter((f) => f.startsWith("vmlinuz-"))
    .sort()
    .pop();
  if (!kernel) return "no kernel in /boot (apt-get install -y linux-image-amd64)";
  const initrd = `initrd.img-${kernel.slice("vmlinuz-".length)}`;
  if (!files.includes(initrd)) return `no ${initrd} in /boot`;
  return { kernel: join("/boot", kernel), initrd: join("/boot", initrd) };
}

/**
 * A Debian 12 root file system for a gateway, in `dir`: debootstrap's minimal base with systemd
 * and udev (the boot, and the outbox disk's mount, are systemd's), and the agent installed from
 * its .deb as an operator installs it (`dpkg -i`). The agent runs as the packaged service, with a
 * drop-in that only adds what the rig observes: each durably captured reading goes out on the
 * second serial port (`--captured-report /dev/ttyS1`; the unit already lets ttyS devices
 * through), and the agent's log goes to the console too.
 */
export async function makeGuestRoot(dir: string, deb: string, mirror?: string): Promise<string> {
  const root = join(dir, "root");
  await run("debootstrap", [
    "--variant=minbase",
    "--include=systemd-sysv,udev,libstdc++6,openssl",
    "bookworm",
    root,
    mirror ?? process.env.DEBIAN_MIRROR ?? "http://deb.debian.org/debian",
  ]);
  copyFileSync(deb, join(root, "root/reefer-edge.deb"));
  await run("chroot", [root, "dpkg", "-i", "/root/reefer-edge.deb"]);
  write(root, "etc/hostname", "gateway\n");
  write(
    root,
    "etc/systemd/network/eth0.network",
    `[Match]\nName=eth0\n[Network]\nAddress=10.0.2.15/24\nGateway=${HOST_FROM_GUEST}\n`,
  );
  // The outbox on its own disk, checked at boot, read-only on an error as a card's should be.
  write(root, "etc/fstab", "/dev/vdb /var/lib/reefer-edge ext4 defaults,errors=remount-ro 0 2\n");
  write(
    root,
    "etc/systemd/system/reefer-edge.service.d/powercut-rig.conf",
    [
      "# The power-cut rig's observers: captured readings out on ttyS1, the log on the console.",
      "[Service]",
      "ExecStart=",
      "ExecStart=/usr/bin/reefer-edge run --config /etc/reefer-edge/agent.yaml --captured-report /dev/ttyS1",
      "StandardOutput=journal+console",
      "",
    ].join("\n"),
  );
  await run("chroot", [root, "systemctl", "enable", "systemd-networkd", "reefer-edge"]);
  // No login prompts (one on the console would mix with the agent's log), no time service (the
  // guest's clock is the host's, through the emulated RTC), no ext4 scrub at boot: each boot
  // under emulation costs seconds, and the rig boots a hundred times.
  await run("chroot", [
    root,
    "systemctl",
    "mask",
    "getty.target",
    "serial-getty@ttyS0.service",
    "systemd-timesyncd.service",
    "e2scrub_reap.service",
  ]);
  return root;
}

/** The gateway's config and certificates, as an operator puts them in place. */
export function configureGateway(root: string, gateway: GuestGateway): void {
  const certs = join(root, "etc/reefer-edge/certs");
  copyFileSync(gateway.caCert, join(certs, "ca.pem"));
  copyFileSync(gateway.cert, join(certs, "gateway.pem"));
  copyFileSync(gateway.key, join(certs, "gateway.key"));
  chmodSync(join(certs, "ca.pem"), 0o644);
  chmodSync(join(certs, "gateway.pem"), 0o644);
  chmodSync(join(certs, "gateway.key"), 0o600);
  const containers = gateway.containers
    .map(
      (id, i) =>
        `  - { id: ${id}, product: P0${(i % 3) + 1}, driver: { type: simulated, seed: ${i + 1} } }`,
    )
    .join("\n");
  // The key comes from the unit (LoadCredential), the outbox path too (StateDirectory).
  write(
    root,
    "etc/reefer-edge/agent.yaml",
    `version: 1
gateway: { id: ${gateway.id} }
mqtt:
  url: "mqtts://${HOST_FROM_GUEST}:${gateway.brokerPort}"
  ca: /etc/reefer-edge/certs/ca.pem
  cert: /etc/reefer-edge/certs/gateway.pem
  connectTimeoutMs: 10000
  reconnect: { initialDelayMs: 200, maxDelayMs: 2000, stableAfterMs: 5000 }
buffer: { durability: full }
sampling: { intervalMs: ${gateway.intervalMs} }
containers:
${containers}
health: { enabled: false }
log: { level: info, pretty: never }
${gateway.update ? `update: { enabled: true, soakSeconds: ${gateway.update.soakSeconds}, pollSeconds: 2 }\n` : ""}`,
  );
}

/**
 * A gateway ready for updates over the air, as an operator who rolls releases out sets one up:
 * the release key, the installed version's .deb already kept where the installer keeps the way
 * back (an operator's image would carry it; rebuilt from dpkg's database under emulation it takes
 * minutes), and the host's CA trusted for the release server's HTTPS (10.0.2.2 is not loopback,
 * so the agent refuses plain HTTP there). The installer's output also goes to the console, where
 * the rig reads its steps, and it looks every second, with room for a start under emulation.
 */
export function prepareUpdates(
  root: string,
  options: { releaseKeyPem: string; deb: string; version: string },
): void {
  write(root, "etc/reefer-edge/release-key.pem", options.releaseKeyPem);
  chmodSync(join(root, "etc/reefer-edge/release-key.pem"), 0o644);
  const packages = join(root, "var/lib/reefer-edge-update/packages");
  mkdirSync(packages, { recursive: true, mode: 0o700 });
  chmodSync(join(packages, ".."), 0o700);
  copyFileSync(options.deb, join(packages, `reefer-edge_${options.version}.deb`));
  write(
    root,
    "etc/systemd/system/reefer-edge-update.service.d/powercut-rig.conf",
    [
      "# The power-cut rig: the installer's steps on the console, its pace for an emulated CPU.",
      "[Service]",
      "StandardOutput=journal+console",
      "Environment=REEFER_EDGE_UPDATE_POLL=1 REEFER_EDGE_UPDATE_GRACE=150 REEFER_EDGE_UPDATE_STALE=60 REEFER_EDGE_UPDATE_UNHEALTHY=60",
      "",
    ].join("\n"),
  );
  write(
    root,
    "etc/systemd/system/reefer-edge.service.d/release-server.conf",
    "[Service]\nEnvironment=NODE_EXTRA_CA_CERTS=/etc/reefer-edge/certs/ca.pem\n",
  );
}

/**
 * The disks, as ext4 images made without a loop mount (`mke2fs -d`): the root from `root`, and
 * an empty one for the outbox.
 */
export async function makeGuestDisks(root: string, dir: string): Promise<GuestDisks> {
  const disks = { root: join(dir, "root.img"), outbox: join(dir, "outbox.img") };
  await run("mke2fs", ["-q", "-F", "-t", "ext4", "-d", root, disks.root, "1536M"]);
  await run("mke2fs", ["-q", "-F", "-t", "ext4", disks.outbox, "256M"]);
  return disks;
}

function write(root: string, path: string, text: string): void {
  const file = join(root, path);
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, text);
}

/** Runs a command to its end; its output is kept for the error if it fails. */
function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    let output = "";
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(" ")} exited ${String(code)}:\n${output}`));
    });
  });
}
