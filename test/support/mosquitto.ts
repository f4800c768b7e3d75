import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { mosquittoConfig, MosquittoProcess } from "../../fleet/mosquitto-process.js";
import type { TestPki } from "./pki.js";
import { freePort } from "./ports.js";

/** Common name of the test's monitoring client, which may read every topic. */
export const MONITOR = "monitor";
/** Common name of the shadow service stand-in (test/support/shadow-service.ts). */
export const SHADOW_SERVICE = "shadow-service";
/** Common name of the Jobs stand-in (test/support/jobs-service.ts). */
export const JOBS_SERVICE = "jobs-service";
/** Common name of the provisioning stand-in (test/support/provisioning-service.ts). */
export const PROVISIONING_SERVICE = "provisioning-service";
/** Common name of a factory claim certificate: it may only provision. */
export const CLAIM = "claim";

/**
 * A real Mosquitto on 127.0.0.1 and a random port, with TLS as AWS IoT Core does it: clients
 * must present a certificate from the CA, the certificate's CN becomes the username, and the
 * ACL lets a gateway publish only under `dt/reefer/<its id>/#`, as an IoT policy with the
 * thing-name variable does.
 */
export class MosquittoBroker extends MosquittoProcess {
  static async start(binary: string, dir: string, pki: TestPki): Promise<MosquittoBroker> {
    const acl = join(dir, "acl");
    // `#` does not match topics beginning with `$`: the monitor reads the shadows' explicitly.
    writeFileSync(
      acl,
      [
        "pattern write dt/reefer/%u/#",
        // AWS IoT Basic Ingest: the same topics behind the rule they go to (publish.basicIngest).
        "pattern write $aws/rules/+/dt/reefer/%u/#",
        "pattern write $aws/things/%u/shadow/#",
        "pattern read $aws/things/%u/shadow/#",
        "pattern readwrite $aws/things/%u/jobs/#",
        "",
        `user ${MONITOR}`,
        "topic read #",
        "topic read $aws/#",
        "",
        `user ${SHADOW_SERVICE}`,
        "topic readwrite $aws/#",
        "",
        `user ${JOBS_SERVICE}`,
        "topic readwrite $aws/#",
        "",
        `user ${PROVISIONING_SERVICE}`,
        "topic readwrite $aws/#",
        "",
        // As the claim policy: the provisioning topics only.
        `user ${CLAIM}`,
        "topic readwrite $aws/certificates/create-from-csr/#",
        "topic readwrite $aws/provisioning-templates/+/provision/#",
        "",
      ].join("\n"),
    );
    const broker = new MosquittoBroker(binary, dir, await freePort());
    await broker.launch(
      mosquittoConfig({
        port: broker.port,
        files: { ca: pki.caCert, cert: pki.server.cert, key: pki.server.key },
        acl,
        dir,
        // Persistent sessions, saved every second: the test's monitor keeps its subscription and
        // its queued messages even across a SIGKILL of the broker, so it misses nothing even
        // when the agent reconnects and drains before the monitor is back.
        autosaveSeconds: 1,
        // The monitor must be the one client that never misses anything: by default Mosquitto
        // drops QoS 1 messages beyond 1,000 queued for a client that acknowledges slowly (a
        // test worker starved of CPU), which would count as a loss the agent did not cause.
        // (0, "no limit", makes Mosquitto 2.0.11 drop the connection of a client whose publish
        // its ACL denies under MQTT 5: the dead-letter test caught it.)
        maxQueuedMessages: 1_000_000,
        logTypes: ["error", "warning", "notice", "information"],
      }),
    );
    return broker;
  }

  /**
   * Stops the broker. `hard` (default): SIGKILL, a broker that vanishes; its sessions are lost.
   * Otherwise SIGTERM: it closes its connections and saves the sessions (the monitor's
   * subscription and what was queued for it) for `resume`.
   */
  async pause(options: { hard?: boolean } = {}): Promise<void> {
    await this.halt(options.hard === false ? "SIGTERM" : "SIGKILL");
  }

  async stop(): Promise<void> {
    await this.pause();
  }
}
