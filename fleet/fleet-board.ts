import type { LiveEvent, LiveSource } from "../agent/dashboard/dashboard-routes.js";
import { TILE, type FleetSnapshotWire, type FleetUpdateWire } from "../dashboard/wire.js";
import type { FromWorker, ToWorker } from "./protocol.js";

/** What the fleet view's summary line shows, read from the workers' stats each second. */
export interface FleetTotals {
  readonly connected: number;
  readonly captured: number;
  readonly acknowledged: number;
  readonly backlog: number;
}

/** A worker as the board reaches it: its gateways, and its IPC channel. */
export interface BoardWorker {
  holds(gateway: string): boolean;
  send(message: ToWorker): void;
}

/**
 * The coordinator's side of the fleet dashboard: every container's tile, kept from the workers'
 * changes and sent to each open page once a second as one update; and a gateway's own feed,
 * relayed from the worker that runs it while a page watches it.
 */
export class FleetBoard {
  private readonly flags: Uint8Array;
  /** Tenths of °C; NaN before the first reading. */
  private readonly temperatures: Float32Array;
  private readonly changed = new Set<number>();
  private readonly fleetListeners = new Set<(event: LiveEvent) => void>();
  private readonly watchers = new Map<number, (event: LiveEvent) => void>();
  private nextSubscription = 1;
  private last: { at: number; captured: number; acknowledged: number } | null = null;

  constructor(
    private readonly gateways: readonly string[],
    private readonly containerSuffixes: readonly string[],
    private readonly workers: () => readonly BoardWorker[],
  ) {
    const n = gateways.length * containerSuffixes.length;
    this.flags = new Uint8Array(n).fill(TILE.noData | TILE.offline);
    this.temperatures = new Float32Array(n).fill(Number.NaN);
  }

  /** A worker's message for the board: tiles or a watched gateway's feed. */
  onMessage(message: FromWorker): void {
    if (message.type === "tiles") {
      for (let i = 0; i < message.tiles.length; i++) {
        const tile = message.tiles[i] ?? -1;
        if (tile < 0 || tile >= this.flags.length) continue;
        this.flags[tile] = message.flags[i] ?? 0;
        this.temperatures[tile] = message.temperatures[i] ?? Number.NaN;
        this.changed.add(tile);
      }
    } else if (message.type === "feed") {
      const listener = this.watchers.get(message.subscription);
      if (!listener) return;
      if (message.event === "ended") this.watchers.delete(message.subscription);
      else listener(message.event);
    }
  }

  /** Sends the last second's changes to every open fleet page. */
  tick(totals: FleetTotals, now = Date.now()): void {
    const elapsed = this.last ? (now - this.last.at) / 1000 : 0;
    const rate = (value: number, before: number | undefined) =>
      elapsed > 0 && before !== undefined ? Math.max(0, (value - before) / elapsed) : 0;
    const update: FleetUpdateWire = {
      ...this.takeChanges(),
      summary: {
        connected: totals.connected,
        gateways: this.gateways.length,
        capturedPerSecond: rate(totals.captured, this.last?.captured),
        acknowledgedPerSecond: rate(totals.acknowledged, this.last?.acknowledged),
        backlog: totals.backlog,
      },
    };
    this.last = { at: now, captured: totals.captured, acknowledged: totals.acknowledged };
    for (const listener of this.fleetListeners) listener({ event: "update", data: update });
  }

  fleet(): LiveSource {
    return {
      subscribe: (listener) => {
        listener({ event: "snapshot", data: this.snapshot() });
        this.fleetListeners.add(listener);
        return () => this.fleetListeners.delete(listener);
      },
    };
  }

  /** A gateway's feed, relayed from its worker; null when this fleet has no such gateway. */
  gateway(id: string): LiveSource | null {
    const worker = this.workers().find((w) => w.holds(id));
    if (!worker) return null;
    return {
      subscribe: (listener) => {
        const subscription = this.nextSubscription++;
        this.watchers.set(subscription, listener);
        worker.send({ type: "watch", gateway: id, subscription });
        return () => {
          if (this.watchers.delete(subscription)) worker.send({ type: "unwatch", subscription });
        };
      },
    };
  }

  private snapshot(): FleetSnapshotWire {
    return {
      gateways: this.gateways,
      containerSuffixes: this.containerSuffixes,
      flags: Array.from(this.flags),
      temperatures: Array.from(this.temperatures, (t) => (Number.isNaN(t) ? null : t)),
    };
  }

  private takeChanges(): Pick<FleetUpdateWire, "tiles" | "flags" | "temperatures"> {
    const tiles = [...this.changed];
    this.changed.clear();
    return {
      tiles,
      flags: tiles.map((t) => this.flags[t] ?? 0),
      temperatures: tiles.map((t) => {
        const value = this.temperatures[t] ?? Number.NaN;
        return Number.isNaN(value) ? null : value;
      }),
    };
  }
}
