import type { ReeferReading } from "../../core/record.js";
import type { ReadFailure } from "../tick.js";
import { ALERT_SCHEMA, SEVERITY, type DeviceAlert } from "../../core/alerts.js";

interface Watched {
  /** Monotonic and wall time of the last good read (or of the first look, if none since). */
  lastGoodMono: number;
  lastGoodWall: number;
  /** The raise's seq, while raised. */
  raisedSeq: number | null;
  /** What failed when it was raised, for the clearing record. */
  raisedBy: ReadFailure | null;
  /**
   * The failure to report since the last good read: the latest one that says why (a circuit
   * breaker that opened only says that the device failed before).
   */
  cause: ReadFailure | null;
}

/** When the watch looks: the wall clock for the record, the monotonic one for durations. */
export interface WatchTime {
  readonly wall: number;
  readonly mono: number;
}

/**
 * A controller that stops answering is news, not silence: without it the cloud cannot tell a
 * dead reefer controller (unplugged, its power lost) from a dead link. Per container, after
 * `afterMs` without a good read while reads fail, a critical `device_unreachable` alert names
 * the devices and how they failed; the first good read clears it. Durations run on the
 * monotonic clock, so an NTP step neither raises nor delays it.
 */
export class DeviceWatch {
  private readonly watched = new Map<string, Watched>();

  constructor(
    private readonly gatewayId: string,
    /** Each container's product id. */
    private readonly products: ReadonlyMap<string, string>,
    /** Per container, how long without a good read raises; absent: not watched. */
    private afterMs: ReadonlyMap<string, number>,
  ) {}

  /** New settings (a reloaded config); a raised alert stays raised until a good read. */
  update(afterMs: ReadonlyMap<string, number>): void {
    this.afterMs = afterMs;
  }

  /** The containers whose alert is raised now. */
  raised(): string[] {
    return [...this.watched].flatMap(([id, w]) => (w.raisedSeq === null ? [] : [id]));
  }

  /** Whether the container's alert is raised now. */
  isRaised(containerId: string): boolean {
    return (this.watched.get(containerId)?.raisedSeq ?? null) !== null;
  }

  /**
   * Judges one tick: its sequenced readings are good reads, its failures bad ones. `lastSeq`
   * gives a container's last captured seq, for the record. Returns the alerts raised or cleared.
   */
  observe(
    readings: readonly ReeferReading[],
    failures: readonly ReadFailure[],
    at: WatchTime,
    lastSeq: (containerId: string) => number,
  ): DeviceAlert[] {
    const alerts: DeviceAlert[] = [];
    for (const reading of readings) {
      const w = this.watch(reading.container_id, at);
      if (w.raisedSeq !== null) {
        alerts.push(
          this.record(
            reading.container_id,
            "cleared",
            w,
            at,
            w.raisedSeq,
            reading.seq,
            w.raisedBy ?? { containerId: reading.container_id, errorClass: "error", devices: [] },
          ),
        );
        w.raisedSeq = null;
        w.raisedBy = null;
      }
      w.lastGoodMono = at.mono;
      w.lastGoodWall = at.wall;
      w.cause = null;
    }
    for (const failure of failures) {
      const after = this.afterMs.get(failure.containerId);
      if (after === undefined) continue;
      const w = this.watch(failure.containerId, at);
      if (failure.errorClass !== "circuit_open" || !w.cause) w.cause = failure;
      if (w.raisedSeq !== null || at.mono - w.lastGoodMono < after) continue;
      const seq = lastSeq(failure.containerId);
      w.raisedSeq = seq;
      w.raisedBy = w.cause;
      alerts.push(this.record(failure.containerId, "raised", w, at, seq, seq, w.cause));
    }
    return alerts;
  }

  private watch(containerId: string, at: WatchTime): Watched {
    let w = this.watched.get(containerId);
    if (!w) {
      w = {
        lastGoodMono: at.mono,
        lastGoodWall: at.wall,
        raisedSeq: null,
        raisedBy: null,
        cause: null,
      };
      this.watched.set(containerId, w);
    }
    return w;
  }

  private record(
    containerId: string,
    state: "raised" | "cleared",
    w: Watched,
    at: WatchTime,
    firstSeq: number,
    lastSeq: number,
    failure: ReadFailure,
  ): DeviceAlert {
    return {
      schema: ALERT_SCHEMA,
      alert_id: `${containerId}:device_unreachable:${firstSeq}:${state}`,
      alert_type: "device_unreachable",
      severity: SEVERITY.device_unreachable,
      state,
      container_id: containerId,
      gateway_id: this.gatewayId,
      product_id: this.products.get(containerId) ?? "",
      first_seq: firstSeq,
      last_seq: lastSeq,
      alert_time: new Date(at.wall).toISOString(),
      since: new Date(w.lastGoodWall).toISOString(),
      devices: [...failure.devices],
      error_class: failure.errorClass,
    };
  }
}
