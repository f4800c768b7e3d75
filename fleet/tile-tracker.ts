import type { GatewayStatus } from "../core/gateway-status.js";
import { OpenAlerts } from "../agent/dashboard/open-alerts.js";
import { TILE } from "../dashboard/wire.js";

/** A window alert keeps its container's tile in alarm this long (the window rule has no clear). */
const WINDOW_ALARM_MS = 5 * 60_000;

/**
 * The fleet view's tiles of one worker's gateways: per container a state (flags) and its last
 * temperature, kept from each agent's events in flat typed arrays (10,000 containers cost a few
 * hundred kilobytes), and the tiles that changed since the last `changes()`.
 */
export class TileTracker {
  private readonly flags: Uint8Array;
  private readonly sent: Uint8Array;
  /** Tenths of °C; NaN before the first reading. */
  private readonly temperatures: Float32Array;
  private readonly sentTemperatures: Float32Array;
  private readonly unsynced: Uint8Array;
  private readonly windowAlarmUntil: Float64Array;
  private readonly open: OpenAlerts[] = [];
  private readonly agents: (GatewayStatus | null)[];
  private readonly containerIds: string[][] = [];

  constructor(
    /** The first tile of this worker in the fleet view (its first gateway's first container). */
    private readonly firstTile: number,
    gateways: number,
    private readonly perGateway: number,
    private readonly now: () => number = Date.now,
  ) {
    const n = gateways * perGateway;
    this.flags = new Uint8Array(n).fill(TILE.noData | TILE.offline);
    this.sent = new Uint8Array(n).fill(255);
    this.temperatures = new Float32Array(n).fill(Number.NaN);
    this.sentTemperatures = new Float32Array(n).fill(Number.NaN);
    this.unsynced = new Uint8Array(n);
    this.windowAlarmUntil = new Float64Array(n);
    this.agents = Array.from({ length: gateways }, () => null);
    for (let g = 0; g < gateways; g++) this.open.push(new OpenAlerts());
  }

  /** Follows gateway `g` (0-based within this worker); its containers are in config order. */
  track(g: number, agent: GatewayStatus): void {
    this.agents[g] = agent;
    const ids = agent.containers().map((c) => c.id);
    this.containerIds[g] = ids;
    const index = new Map(ids.map((id, j) => [id, g * this.perGateway + j]));
    const open = this.open[g];
    agent.events.on("captured", (readings) => {
      for (const reading of readings) {
        const tile = index.get(reading.container_id);
        if (tile === undefined) continue;
        this.temperatures[tile] =
          reading.temperature === null ? Number.NaN : Math.round(reading.temperature * 10);
        this.unsynced[tile] = reading.clock === "unsynced" ? 1 : 0;
      }
    });
    agent.events.on("alert", (alerts) => {
      for (const alert of alerts) {
        open?.apply(alert);
        const tile = index.get(alert.container_id);
        if (tile !== undefined && alert.alert_type === "temperature_window")
          this.windowAlarmUntil[tile] = this.now() + WINDOW_ALARM_MS;
      }
    });
  }

  /**
   * Tiles whose state or temperature changed since the last call, as the fleet view's parallel
   * arrays (tile indices in the whole fleet's view).
   */
  changes(): { tiles: number[]; flags: number[]; temperatures: (number | null)[] } {
    const now = this.now();
    const out = {
      tiles: [] as number[],
      flags: [] as number[],
      temperatures: [] as (number | null)[],
    };
    for (let g = 0; g < this.agents.length; g++) {
      const agent = this.agents[g];
      // Not status(): that also reads the outbox's counters, for every gateway every second.
      const glance = agent?.glance();
      const connected = glance?.connected ?? false;
      const backlog = glance ? glance.backlog > this.perGateway * 3 : false;
      const open = this.open[g];
      const ids = this.containerIds[g];
      for (let j = 0; j < this.perGateway; j++) {
        const tile = g * this.perGateway + j;
        const temperature = this.temperatures[tile] ?? Number.NaN;
        const id = ids?.[j];
        let flags = 0;
        if (Number.isNaN(temperature)) flags |= TILE.noData;
        if (!connected) flags |= TILE.offline;
        if (backlog) flags |= TILE.backlog;
        if (this.unsynced[tile]) flags |= TILE.clockUntrusted;
        if (
          (id !== undefined && (open?.count(id) ?? 0) > 0) ||
          (this.windowAlarmUntil[tile] ?? 0) > now
        )
          flags |= TILE.alarm;
        this.flags[tile] = flags;
        const sentTemperature = this.sentTemperatures[tile] ?? Number.NaN;
        const temperatureChanged =
          temperature !== sentTemperature &&
          !(Number.isNaN(temperature) && Number.isNaN(sentTemperature));
        if (flags !== this.sent[tile] || temperatureChanged) {
          this.sent[tile] = flags;
          this.sentTemperatures[tile] = temperature;
          out.tiles.push(this.firstTile + tile);
          out.flags.push(flags);
          out.temperatures.push(Number.isNaN(temperature) ? null : temperature);
        }
      }
    }
    return out;
  }
}
