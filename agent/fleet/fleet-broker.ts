import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, Socket, type AddressInfo } from "node:net";
import { join } from "node:path";

export interface FleetBrokerFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * A Mosquitto the fleet starts for a rehearsal: on 127.0.0.1 and a free port, mTLS as AWS IoT
 * Core does it (the certificate's CN is the client's identity), an ACL with the gateway policy's
 * shape (publish only under dt/reefer/<own id>/, read only cmd/reefer/<own id>/), the observer
 * allowed to read everything, and persistent sessions so the observer misses nothing across a
 * restart. Connection messages with timestamps give the CONNECTs per second the broker saw.
 */
export class FleetBroker {
  private child: ChildProcess | null = null;
  private constructor(
    private readonly binary: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async start(
    binary: string,
    dir: string,
    files: FleetBrokerFiles,
    observer: string,
  ): Promise<FleetBroker> {
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const acl = join(dir, "acl");
    writeFileSync(
      acl,
      [
        "pattern write dt/reefer/%u/#",
        "pattern read cmd/reefer/%u/#",
        "",
        `user ${observer}`,
        "topic read dt/reefer/#",
        "",
      ].join("\n"),
    );
    const lines = [
      `listener ${port} 127.0.0.1`,
      `cafile ${files.ca}`,
      `certfile ${files.cert}`,
      `keyfile ${files.key}`,
      "require_certificate true",
      "use_identity_as_username true",
      `acl_file ${acl}`,
      "persistence true",
      `persistence_location ${dir}/`,
      "autosave_interval 5",
      // The observer must never be the one that drops: Mosquitto's default 1,000 queued QoS 1
      // messages per client would count as losses the gateways did not cause.
      "max_queued_messages 10000000",
      `log_dest file ${join(dir, "mosquitto.log")}`,
      "log_type error",
      "log_type warning",
      "log_type notice",
      "connection_messages true",
      "log_timestamp true",
      ...(process.getuid?.() === 0 ? ["user root"] : []),
    ];
    writeFileSync(join(dir, "mosquitto.conf"), lines.join("\n") + "\n");
    const broker = new FleetBroker(binary, dir, port);
    await broker.resume();
    return broker;
  }

  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`;
  }

  /** Starts it (again) on the same port, with as many descriptors as the system allows. */
  async resume(): Promise<void> {
    // 10,000 clients need more descriptors than the usual soft limit of 1,024.
    const child = spawn(
      "/bin/sh",
      [
        "-c",
        'ulimit -n "$(ulimit -Hn)"; exec "$0" -c "$1"',
        this.binary,
        join(this.dir, "mosquitto.conf"),
      ],
      { stdio: "ignore" },
    );
    this.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) =>
        reject(new Error(`mosquitto exited (${code}): ${this.log().slice(-2000)}`)),
      ),
    );
    await Promise.race([waitForPort(this.port, 15_000), exited]);
    child.removeAllListeners("exit");
  }

  /** Stops it gracefully (SIGTERM: sessions saved, connections closed). */
  async pause(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  }

  async stop(): Promise<void> {
    await this.pause();
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, "mosquitto.log"), "utf8");
    } catch {
      return "";
    }
  }

  /** CONNECTs the broker accepted per second (from its log), for the report's peak. */
  connectsPerSecond(): Map<number, number> {
    return countConnects(this.log());
  }
}

/** Counts "New client connected" lines per Unix second of a Mosquitto log with timestamps. */
export function countConnects(log: string): Map<number, number> {
  const perSecond = new Map<number, number>();
  for (const match of log.matchAll(/^(\d+): New client connected /gm)) {
    const second = Number(match[1]);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  return perSecond;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
      socket.connect(port, "127.0.0.1");
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
