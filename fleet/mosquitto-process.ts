import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitForPort } from "./ports.js";

export interface BrokerTlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * A Mosquitto process on 127.0.0.1 and a port of its own, with its config, sessions and log in
 * one folder, that can be stopped and started again on the same port: the fleet's broker and
 * the tests' are both this.
 */
export class MosquittoProcess {
  private child: ChildProcess | null = null;

  constructor(
    private readonly binary: string,
    protected readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`;
  }

  /** Writes its mosquitto.conf and starts it. */
  protected async launch(config: readonly string[]): Promise<void> {
    writeFileSync(join(this.dir, "mosquitto.conf"), config.join("\n") + "\n");
    await this.resume();
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

  /** Stops it with `signal`: SIGTERM saves the sessions, SIGKILL loses them. */
  protected async halt(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill(signal);
    });
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, "mosquitto.log"), "utf8");
    } catch {
      return "";
    }
  }
}

export interface MosquittoConfig {
  readonly port: number;
  readonly files: BrokerTlsFiles;
  readonly acl: string;
  /** Where it keeps its sessions and its log. */
  readonly dir: string;
  readonly maxQueuedMessages: number;
  readonly autosaveSeconds: number;
  readonly logTypes: readonly string[];
}

/**
 * mosquitto.conf for a broker on 127.0.0.1 with mTLS as AWS IoT Core does it (the certificate's
 * CN is the username the ACL names), persistent sessions and timestamped connection messages.
 * The fleet's broker and the tests' use it.
 */
export function mosquittoConfig(options: MosquittoConfig): string[] {
  return [
    `listener ${options.port} 127.0.0.1`,
    `cafile ${options.files.ca}`,
    `certfile ${options.files.cert}`,
    `keyfile ${options.files.key}`,
    "require_certificate true",
    "use_identity_as_username true",
    `acl_file ${options.acl}`,
    "persistence true",
    `persistence_location ${options.dir}/`,
    `autosave_interval ${options.autosaveSeconds}`,
    `max_queued_messages ${options.maxQueuedMessages}`,
    `log_dest file ${join(options.dir, "mosquitto.log")}`,
    ...options.logTypes.map((type) => `log_type ${type}`),
    "connection_messages true",
    "log_timestamp true",
    // Mosquitto drops root privileges to "mosquitto", which could not read the files.
    ...(process.getuid?.() === 0 ? ["user root"] : []),
  ];
}
