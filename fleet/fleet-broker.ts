import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mosquittoConfig, MosquittoProcess, type BrokerTlsFiles } from "./mosquitto-process.js";
import { JOBS_SERVICE_ID } from "./jobs-service.js";
import { freePort } from "./ports.js";

/**
 * A Mosquitto the fleet starts for a rehearsal: on 127.0.0.1 and a free port, mTLS as AWS IoT
 * Core does it (the certificate's CN is the client's identity), an ACL with the gateway policy's
 * shape (publish only under dt/reefer/<own id>/, read only cmd/reefer/<own id>/), the observer
 * allowed to read everything, and persistent sessions so the observer misses nothing across a
 * restart. Connection messages with timestamps give the CONNECTs per second the broker saw.
 */
export class FleetBroker extends MosquittoProcess {
  static async start(
    binary: string,
    dir: string,
    files: BrokerTlsFiles,
    observer: string,
  ): Promise<FleetBroker> {
    mkdirSync(dir, { recursive: true });
    const acl = join(dir, "acl");
    writeFileSync(
      acl,
      [
        "pattern write dt/reefer/%u/#",
        "pattern read cmd/reefer/%u/#",
        // The device shadows (the health report), as the IoT policy allows.
        "pattern write $aws/things/%u/shadow/#",
        "pattern read $aws/things/%u/shadow/#",
        // Update jobs (the gateway policy's jobs topics), answered by the Jobs stand-in.
        "pattern readwrite $aws/things/%u/jobs/#",
        "",
        `user ${observer}`,
        "topic read dt/reefer/#",
        "",
        `user ${JOBS_SERVICE_ID}`,
        "topic readwrite $aws/#",
        "",
      ].join("\n"),
    );
    const broker = new FleetBroker(binary, dir, await freePort());
    await broker.launch(
      mosquittoConfig({
        port: broker.port,
        files,
        acl,
        dir,
        // The observer must never be the one that drops: Mosquitto's default 1,000 queued QoS 1
        // messages per client would count as losses the gateways did not cause.
        maxQueuedMessages: 10_000_000,
        autosaveSeconds: 5,
        logTypes: ["error", "warning", "notice"],
      }),
    );
    return broker;
  }

  /** Stops it gracefully (SIGTERM: sessions saved, connections closed). */
  async pause(): Promise<void> {
    await this.halt("SIGTERM");
  }

  async stop(): Promise<void> {
    await this.pause();
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
