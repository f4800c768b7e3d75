import { formatNumber } from "./format.js";
import { severityOf, TILE_STATES } from "./tile-state.js";
import { TILE, type FleetSnapshotWire, type FleetUpdateWire } from "./wire.js";

export type SortKey = "id" | "state" | "temperature";

/** The flags that put a container on the "needing attention" list. */
const ATTENTION = TILE.alarm | TILE.offline | TILE.backlog | TILE.clockUntrusted;

/**
 * The fleet view's model, with no DOM and no canvas: every container's state and temperature,
 * which of them show under the filter and the search, in what order, and the words a screen
 * reader hears for each. The view (fleet-view.ts) paints it; tests run it under Node.
 */
export class FleetTiles {
  gateways: readonly string[] = [];
  private containers: readonly string[] = [];
  flags = new Uint8Array(0);
  temperatures = new Float32Array(0);
  /** The visible tiles in display order, and each tile's slot in it (-1: filtered out). */
  order = new Int32Array(0);
  slotOf = new Int32Array(0);
  filter = 0;
  sort: SortKey = "id";
  search = "";

  get size(): number {
    return this.flags.length;
  }

  load(snapshot: FleetSnapshotWire): void {
    this.gateways = snapshot.gateways;
    this.containers = snapshot.containerSuffixes;
    this.flags = Uint8Array.from(snapshot.flags);
    this.temperatures = Float32Array.from(snapshot.temperatures, (t) =>
      t === null ? Number.NaN : t / 10,
    );
    this.slotOf = new Int32Array(snapshot.flags.length).fill(-1);
    this.layout();
  }

  /**
   * Applies a second of changes. True when the order may have changed (a tile's state under a
   * filter, a search or a sort by state; any temperature under a sort by temperature): then the
   * view lays out again, else it redraws only the changed tiles.
   */
  apply(update: FleetUpdateWire): boolean {
    const { tiles, flags, temperatures } = update;
    let reorder = false;
    const keyed = this.filter !== 0 || this.search !== "" || this.sort !== "id";
    for (let i = 0; i < tiles.length; i++) {
      const tile = tiles[i] ?? -1;
      if (tile < 0 || tile >= this.flags.length) continue;
      const before = this.flags[tile] ?? 0;
      const after = flags[i] ?? 0;
      this.flags[tile] = after;
      const t = temperatures[i];
      this.temperatures[tile] = t === null || t === undefined ? Number.NaN : t / 10;
      if (keyed && (before !== after || this.sort === "temperature")) reorder = true;
    }
    return reorder;
  }

  /** Recomputes which tiles show, and in what order. */
  layout(): void {
    const visible: number[] = [];
    for (let tile = 0; tile < this.flags.length; tile++) {
      if (this.filter !== 0 && ((this.flags[tile] ?? 0) & this.filter) === 0) continue;
      if (this.search !== "" && !this.idOf(tile).toLowerCase().includes(this.search)) continue;
      visible.push(tile);
    }
    if (this.sort === "state")
      visible.sort(
        (a, b) => severityOf(this.flags[a] ?? 0) - severityOf(this.flags[b] ?? 0) || a - b,
      );
    if (this.sort === "temperature")
      visible.sort(
        (a, b) => warmest(this.temperatures[b]) - warmest(this.temperatures[a]) || a - b,
      );
    this.order = Int32Array.from(visible);
    this.slotOf.fill(-1);
    this.order.forEach((tile, slot) => (this.slotOf[tile] = slot));
  }

  /** `<gateway>-<container suffix>`: the container's id. */
  idOf(tile: number): string {
    const per = Math.max(1, this.containers.length);
    return `${this.gateways[Math.floor(tile / per)] ?? "?"}-${this.containers[tile % per] ?? "?"}`;
  }

  /** The gateway view of a tile's gateway, its container selected. */
  linkOf(tile: number): string {
    const per = Math.max(1, this.containers.length);
    const gateway = this.gateways[Math.floor(tile / per)] ?? "";
    const container = `${gateway}-${this.containers[tile % per] ?? ""}`;
    return `#/gateway/${encodeURIComponent(gateway)}/${encodeURIComponent(container)}`;
  }

  /** A tile in words: its id, its states, its temperature. */
  describe(tile: number): string {
    const flags = this.flags[tile] ?? 0;
    const states = TILE_STATES.filter((s) => s.flag !== 0 && (flags & s.flag) !== 0).map(
      (s) => s.label,
    );
    return `${this.idOf(tile)}: ${states.length ? states.join(", ") : "Normal"}, ${formatNumber(this.temperatures[tile])} °C`;
  }

  /** How many containers are in each state (by its worst flag), by state name. */
  counts(): Map<string, number> {
    const bySeverity = new Array<number>(TILE_STATES.length).fill(0);
    for (const flags of this.flags)
      bySeverity[severityOf(flags)] = (bySeverity[severityOf(flags)] ?? 0) + 1;
    return new Map(TILE_STATES.map((state, i) => [state.name, bySeverity[i] ?? 0]));
  }

  /** Up to `most` containers needing attention, worst first, then by position. */
  attention(most = 50): number[] {
    const worst: number[] = [];
    for (let tile = 0; tile < this.flags.length && worst.length < most; tile++) {
      if (((this.flags[tile] ?? 0) & ATTENTION) !== 0) worst.push(tile);
    }
    return worst.sort(
      (a, b) => severityOf(this.flags[a] ?? 0) - severityOf(this.flags[b] ?? 0) || a - b,
    );
  }
}

function warmest(t: number | undefined): number {
  return t === undefined || Number.isNaN(t) ? -Infinity : t;
}
