import { setTimeout as delay } from "node:timers/promises";
import { connectWindowMs } from "../agent/publisher/reconnect-policy.js";
import type { ChaosEvent, FleetConfig } from "../config/fleet-schema.js";
import type { FleetBroker } from "./fleet-broker.js";
import type { LinkFault } from "./link-proxy.js";
import type { FleetProgress } from "./progress.js";
import type { LinkGroup } from "./protocol.js";
import { peakPerSecond, seriesPerSecond, type ChaosOutcome } from "./report.js";
import type { WorkerPool } from "./worker-pool.js";
import type { FleetRelease, ReleaseOutcome } from "./fleet-release.js";

/**
 * Plays the fleet file's chaos schedule: a broker restart (by the fleet's own broker, or asked
 * of the operator's), a partition, a slow link, a release (fleet/fleet-release.ts); and measures
 * each: how long until every gateway was back, and the peak CONNECTs a second as the gateways
 * sent them and as the broker saw them; for a release, its reach and the way back.
 */
export class ChaosPlayer {
  constructor(
    private readonly fleet: FleetConfig,
    private readonly pool: WorkerPool,
    private readonly broker: FleetBroker | null,
    private readonly progress: FleetProgress,
    private readonly total: number,
    /** A release's parts: the run's release key, the broker, and the gateways' thing names. */
    private readonly release: {
      readonly rehearsal: FleetRelease;
      readonly broker: { url: string; ca: string | undefined };
      readonly things: readonly string[];
    } | null = null,
  ) {}

  /** Plays one chaos event at its time; null when the run ended before that time. */
  async play(
    event: ChaosEvent,
    runBegan: number,
    ended: AbortSignal,
  ): Promise<ChaosOutcome | null> {
    const due = Math.max(0, runBegan + event.atSeconds * 1000 - Date.now());
    try {
      await delay(due, undefined, { signal: ended });
    } catch {
      return null;
    }
    const { pool, progress } = this;
    const began = Date.now();
    const from = Math.floor(began / 1000);
    progress.event({ phase: "chaos", kind: event.kind, state: "begins" });
    let faultSeconds: number;
    let endedAt: number;
    let affected = this.total;
    let release: ReleaseOutcome | undefined;
    switch (event.kind) {
      case "release": {
        if (!this.release) throw new Error("a release needs the run's release key");
        release = await this.release.rehearsal.play(
          this.fleet,
          event,
          this.release.broker,
          this.release.things,
          () => ({
            installing: pool.sum("installing"),
            installed: pool.sum("installed"),
            rolledBack: pool.sum("rolledBack"),
            slowestRollbackMs: pool.max("slowestRollbackMs"),
          }),
          (condition, ms) => pool.until(condition, ms),
        );
        progress.event({ phase: "chaos", kind: event.kind, state: "ended", ...release });
        endedAt = Date.now();
        faultSeconds = (endedAt - began) / 1000;
        // A release restarts the agents it reaches: their reconnects are counted from here.
        affected = release.exposed;
        break;
      }
      case "broker-restart": {
        if (this.broker) {
          await this.broker.pause();
          await delay(event.downSeconds * 1000);
          await this.broker.resume();
        } else {
          progress.event({ phase: "chaos", kind: event.kind, state: "restart the broker now" });
          await pool.until(() => pool.sum("connected") === 0, event.waitSeconds * 1000);
        }
        endedAt = Date.now();
        faultSeconds = (endedAt - began) / 1000;
        break;
      }
      case "partition":
      case "slow-link": {
        const group: LinkGroup = event.kind === "partition" ? "partition" : "slow";
        const fault: LinkFault =
          event.kind === "partition"
            ? { kind: "blackhole" }
            : { kind: "slow", latencyMs: event.latencyMs, bytesPerSecond: event.bytesPerSecond };
        affected = Math.round(this.total * event.fraction);
        pool.sendAll({ type: "link", group, fault });
        await delay(event.durationSeconds * 1000);
        pool.sendAll({ type: "link", group, fault: { kind: "none" } });
        endedAt = Date.now();
        faultSeconds = event.durationSeconds;
        break;
      }
    }
    const back = await pool.until(
      () => pool.reportedSince(endedAt) && pool.sum("connected") === this.total,
      Math.max(120, this.fleet.drainTimeoutSeconds) * 1000,
    );
    const backAt = Date.now();
    progress.event({ phase: "chaos", kind: event.kind, state: back ? "all back" : "not all back" });
    // The stats of the last second arrive within a second.
    await delay(1500);
    const to = Math.floor(backAt / 1000);
    const reconnect = this.fleet.agent.mqtt?.reconnect;
    // The first retry is drawn over the fleet's connect window, or the first delay if longer.
    const firstRetryMs = Math.max(
      reconnect?.initialDelayMs ?? 1000,
      connectWindowMs(reconnect?.fleetSize ?? this.total, reconnect?.connectsPerSecond),
    );
    return {
      kind: event.kind,
      atSeconds: (began - runBegan) / 1000,
      faultSeconds,
      backAfterSeconds: back ? (backAt - endedAt) / 1000 : null,
      peakConnectAttemptsPerSecond: peakPerSecond(pool.attempts, from, to),
      peakBrokerConnectsPerSecond: this.broker
        ? peakPerSecond(this.broker.connectsPerSecond(), from, to)
        : null,
      impliedPeakPerSecond: Math.min(affected, (affected * 1000) / firstRetryMs),
      connectsPerSecond: seriesPerSecond(
        this.broker ? this.broker.connectsPerSecond() : pool.attempts,
        from,
        to,
      ),
      ...(release && { release }),
    };
  }
}
