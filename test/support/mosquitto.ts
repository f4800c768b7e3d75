import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestPki } from "./pki.js";
import { freePort, waitForPort } from "./ports.js";

/** Common name of the test's monitoring client, which may read every topic. */
export const MONITOR = "monitor";

/**
 * A real Mosquitto on 127.0.0.1 and a random port, with TLS as AWS IoT Core does it: clients
 * must present a certificate from the CA, the certificate's CN becomes the username, and the
 * ACL lets a gateway publish only under `dt/reefer/<its id>/#`, as an IoT policy with the
 * thing-name variable does.
 */
export class MosquittoBroker {
  private process: ChildProcess | null = null;
  private constructor(
    private readonly binary: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async start(binary: string, dir: string, pki: TestPki): Promise<MosquittoBroker> {
    const port = await freePort();
    const acl = join(dir, "acl");
    writeFileSync(acl, `pattern write dt/reefer/%u/#\n\nuser ${MONITOR}\ntopic read #\n`);
    const lines = [
      `listener ${port} 127.0.0.1`,
      `cafile ${pki.caCert}`,
      `certfile ${pki.server.cert}`,
      `keyfile ${pki.server.key}`,
      "require_certificate true",
      "use_identity_as_username true",
      `acl_file ${acl}`,
      // Persistent sessions, saved every second: the test's monitor keeps its subscription and
      // its queued messages even across a SIGKILL of the broker, so it misses nothing even when
      // the agent reconnects and drains before the monitor is back.
      "persistence true",
      `persistence_location ${dir}/`,
      "autosave_interval 1",
      // The monitor must be the one client that never misses anything: by default Mosquitto
      // drops QoS 1 messages beyond 1,000 queued for a client that acknowledges slowly (a test
      // worker starved of CPU), which would count as a loss the agent did not cause. (0, "no
      // limit", makes Mosquitto 2.0.11 drop the connection of a client whose publish its ACL
      // denies under MQTT 5: the dead-letter test caught it.)
      "max_queued_messages 1000000",
      `log_dest file ${join(dir, "mosquitto.log")}`,
      "log_type error",
      "log_type warning",
      "log_type notice",
      "log_type information",
      "connection_messages true",
      // Mosquitto drops root privileges to "mosquitto", which could not read the test's files.
      ...(process.getuid?.() === 0 ? ["user root"] : []),
    ];
    writeFileSync(join(dir, "mosquitto.conf"), lines.join("\n") + "\n");
    const broker = new MosquittoBroker(binary, dir, port);
    await broker.resume();
    return broker;
  }

  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`;
  }

  /** Starts the broker again on the same port (after `pause`). */
  async resume(): Promise<void> {
    const child = spawn(this.binary, ["-c", join(this.dir, "mosquitto.conf")], { stdio: "ignore" });
    this.process = child;
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) =>
        reject(new Error(`mosquitto exited (${code}): ${this.log().slice(-2000)}`)),
      ),
    );
    await Promise.race([waitForPort(this.port), exited]);
    child.removeAllListeners("exit");
  }

  /**
   * Stops the broker. `hard` (default): SIGKILL, a broker that vanishes; its sessions are lost.
   * Otherwise SIGTERM: it closes its connections and saves the sessions (the monitor's
   * subscription and what was queued for it) for `resume`.
   */
  async pause(options: { hard?: boolean } = {}): Promise<void> {
    const child = this.process;
    this.process = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill(options.hard === false ? "SIGTERM" : "SIGKILL");
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
}
