import { byId, h } from "./dom.js";
import { FleetTiles, type SortKey } from "./fleet-tiles.js";
import { formatNumber } from "./format.js";
import { openStream } from "./live-stream.js";
import { drawTile, drawTiles } from "./tile-painter.js";
import { severityOf, TILE_STATES } from "./tile-state.js";
import { TILE, type FleetSnapshotWire, type FleetUpdateWire } from "./wire.js";

/** What the page measures of itself, for the browser tests and benchmarks. */
export interface FleetTimings {
  /** From navigation start until the snapshot's tiles were first drawn, ms. */
  firstRenderMs: number | null;
  tiles: number;
  /** Per update (a second of changes): the time to parse, apply and draw it, ms. */
  readonly applyMs: number[];
  readonly changedTiles: number[];
}

declare global {
  interface Window {
    reeferDashboard?: { fleet?: FleetTimings };
  }
}

const FILTERS = [
  { flag: TILE.alarm, label: "Alarming" },
  { flag: TILE.backlog, label: "Backlog" },
  { flag: TILE.offline, label: "Offline" },
  { flag: TILE.clockUntrusted, label: "Clock not synced" },
] as const;
const GAP = 1;

/**
 * Every container of the fleet as a small tile on one canvas (10,000 DOM nodes would not
 * update every second on a phone): coloured and shaped by state, sortable, filterable, and
 * navigable with the keyboard; a tile opens its gateway. A list of the containers needing
 * attention gives screen readers the same facts in text. What shows, in what order and in
 * which words is the model's (FleetTiles); this paints it and takes the user's input.
 */
export class FleetView {
  private readonly tiles = new FleetTiles();
  private tileSize = 10;
  private columns = 1;
  private cursor = 0;
  private readonly canvas = h("canvas", {
    class: "tiles",
    tabindex: 0,
    role: "img",
    "aria-roledescription": "container tiles",
    "aria-describedby": "tiles-help",
  });
  private readonly counts = h("ul", { class: "counts", "aria-label": "Containers by state" });
  private readonly summary = h("p", { class: "summary", role: "status" });
  private readonly announcer = h("p", { class: "visually-hidden", "aria-live": "polite" });
  private readonly attention = h("ol", { class: "attention" });
  private readonly timings: FleetTimings = {
    firstRenderMs: null,
    tiles: 0,
    applyMs: [],
    changedTiles: [],
  };
  private readonly closeStream: () => void;
  private readonly resize: ResizeObserver;
  private attentionDue = 0;

  constructor(root: HTMLElement) {
    window.reeferDashboard = { ...window.reeferDashboard, fleet: this.timings };
    const filters = h("fieldset", { class: "filters" }, h("legend", {}, "Show only"));
    for (const f of FILTERS) {
      const box = h("input", { type: "checkbox", value: f.flag, id: `filter-${f.flag}` });
      box.addEventListener("change", () => {
        this.tiles.filter = box.checked ? this.tiles.filter | f.flag : this.tiles.filter & ~f.flag;
        this.relayout();
      });
      filters.append(h("label", { for: `filter-${f.flag}` }, box, ` ${f.label}`));
    }
    const sort = h(
      "select",
      { id: "sort" },
      h("option", { value: "id" }, "id"),
      h("option", { value: "state" }, "state, worst first"),
      h("option", { value: "temperature" }, "temperature, warmest first"),
    );
    sort.addEventListener("change", () => {
      this.tiles.sort = sort.value as SortKey;
      this.relayout();
    });
    const search = h("input", {
      type: "search",
      id: "search",
      placeholder: "gateway or container id",
    });
    search.addEventListener("input", () => {
      this.tiles.search = search.value.trim().toLowerCase();
      this.relayout();
    });
    const zoom = h("input", { type: "range", id: "zoom", min: 4, max: 24, value: this.tileSize });
    zoom.addEventListener("input", () => {
      this.tileSize = Number(zoom.value);
      this.relayout();
    });
    root.replaceChildren(
      h(
        "section",
        { class: "fleet", "aria-labelledby": "fleet-title" },
        h("h1", { id: "fleet-title" }, "Fleet"),
        this.summary,
        this.counts,
        h(
          "div",
          { class: "toolbar" },
          filters,
          h("label", { for: "sort" }, "Sort by ", sort),
          h("label", { for: "search" }, "Find ", search),
          h("label", { for: "zoom" }, "Tile size ", zoom),
        ),
        h(
          "p",
          { id: "tiles-help", class: "help" },
          "Arrow keys move between tiles, Enter opens the gateway; click or tap a tile to open it.",
        ),
        this.canvas,
        this.announcer,
        h(
          "section",
          { "aria-labelledby": "attention-title" },
          h("h2", { id: "attention-title" }, "Needing attention"),
          this.attention,
        ),
      ),
    );
    this.canvas.addEventListener("click", (event) => this.openAt(event.offsetX, event.offsetY));
    this.canvas.addEventListener("mousemove", (event) => {
      const tile = this.tileAt(event.offsetX, event.offsetY);
      this.canvas.title = tile === null ? "" : this.tiles.describe(tile);
    });
    this.canvas.addEventListener("keydown", (event) => this.onKey(event));
    this.canvas.addEventListener("focus", () => this.moveCursor(this.cursor));
    this.resize = new ResizeObserver(() => this.relayout());
    this.resize.observe(root);
    this.closeStream = openStream("/api/fleet/events", {
      snapshot: (data) => this.onSnapshot(data as FleetSnapshotWire),
      update: (data, arrivedAt) => this.onUpdate(data as FleetUpdateWire, arrivedAt),
    });
  }

  destroy(): void {
    this.closeStream();
    this.resize.disconnect();
  }

  private onSnapshot(snapshot: FleetSnapshotWire): void {
    this.tiles.load(snapshot);
    this.timings.tiles = this.tiles.size;
    this.relayout();
    this.renderCounts();
    this.renderAttention();
    this.timings.firstRenderMs ??= performance.now();
  }

  /** Applies a second of changes; timed from its arrival, its JSON's parsing included. */
  private onUpdate(update: FleetUpdateWire, arrivedAt: number): void {
    const began = arrivedAt;
    const { tiles } = update;
    const reorder = this.tiles.apply(update);
    const ctx = this.canvas.getContext("2d");
    // Most tiles changed: one clear and a full redraw beat a clear per tile.
    if (reorder || !ctx || tiles.length > this.tiles.order.length / 2) this.relayout();
    else {
      const slots: number[] = [];
      for (const tile of tiles) {
        const slot = this.tiles.slotOf[tile] ?? -1;
        if (slot >= 0) slots.push(slot);
      }
      this.drawSlots(ctx, slots, true);
    }
    this.renderCounts();
    const s = update.summary;
    this.summary.textContent =
      `${s.connected} of ${s.gateways} gateways connected · ${formatNumber(s.capturedPerSecond, 0)} readings/s captured, ` +
      `${formatNumber(s.acknowledgedPerSecond, 0)}/s acknowledged · backlog ${s.backlog}`;
    if (performance.now() >= this.attentionDue) {
      this.attentionDue = performance.now() + 2000;
      this.renderAttention();
    }
    this.timings.applyMs.push(performance.now() - began);
    this.timings.changedTiles.push(tiles.length);
    if (this.timings.applyMs.length > 600) {
      this.timings.applyMs.shift();
      this.timings.changedTiles.shift();
    }
  }

  /** Lays the model out again (which tiles show, in what order) and redraws them all. */
  private relayout(): void {
    this.tiles.layout();
    const n = this.tiles.size;
    const order = this.tiles.order;
    const available = Math.max(200, this.canvas.parentElement?.clientWidth ?? 600);
    const pitch = this.tileSize + GAP;
    this.columns = Math.max(1, Math.floor(available / pitch));
    const rows = Math.max(1, Math.ceil(order.length / this.columns));
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(this.columns * pitch * ratio);
    const height = Math.round(rows * pitch * ratio);
    // Resizing reallocates the canvas: only when its size changes.
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.style.width = `${this.columns * pitch}px`;
      this.canvas.style.height = `${rows * pitch}px`;
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.canvas.setAttribute("aria-label", `${order.length} of ${n} containers shown`);
    this.canvas.dataset.shown = String(order.length);
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, this.columns * pitch, rows * pitch);
    this.drawSlots(
      ctx,
      Array.from({ length: order.length }, (_, slot) => slot),
      false,
    );
    this.cursor = Math.min(this.cursor, Math.max(0, order.length - 1));
    if (document.activeElement === this.canvas) this.drawCursor(ctx);
  }

  /** Draws these slots' tiles, grouped by state (see drawTiles); `clear` first when redrawn. */
  private drawSlots(ctx: CanvasRenderingContext2D, slots: readonly number[], clear: boolean): void {
    const pitch = this.tileSize + GAP;
    const xs: number[][] = TILE_STATES.map(() => []);
    const ys: number[][] = TILE_STATES.map(() => []);
    let cursorDrawn = false;
    for (const slot of slots) {
      const tile = this.tiles.order[slot];
      if (tile === undefined) continue;
      const x = (slot % this.columns) * pitch;
      const y = Math.floor(slot / this.columns) * pitch;
      if (clear) ctx.clearRect(x - 1, y - 1, pitch + 1, pitch + 1);
      const severity = severityOf(this.tiles.flags[tile] ?? 0);
      xs[severity]?.push(x);
      ys[severity]?.push(y);
      if (slot === this.cursor) cursorDrawn = true;
    }
    TILE_STATES.forEach((state, i) =>
      drawTiles(ctx, state, xs[i] ?? [], ys[i] ?? [], this.tileSize),
    );
    if (cursorDrawn && document.activeElement === this.canvas) this.drawCursor(ctx);
  }

  private drawCursor(ctx: CanvasRenderingContext2D): void {
    const pitch = this.tileSize + GAP;
    const x = (this.cursor % this.columns) * pitch;
    const y = Math.floor(this.cursor / this.columns) * pitch;
    ctx.lineWidth = 2;
    ctx.strokeStyle = getComputedStyle(this.canvas).color || "#000";
    ctx.strokeRect(x - 1, y - 1, this.tileSize + 2, this.tileSize + 2);
  }

  private onKey(event: KeyboardEvent): void {
    const moves: Record<string, number> = {
      ArrowLeft: -1,
      ArrowRight: 1,
      ArrowUp: -this.columns,
      ArrowDown: this.columns,
      PageUp: -this.columns * 10,
      PageDown: this.columns * 10,
    };
    if (event.key === "Enter" || event.key === " ") {
      const tile = this.tiles.order[this.cursor];
      if (tile !== undefined) this.open(tile);
      event.preventDefault();
      return;
    }
    let next: number | null = null;
    if (event.key === "Home") next = 0;
    else if (event.key === "End") next = this.tiles.order.length - 1;
    else if (moves[event.key] !== undefined) next = this.cursor + (moves[event.key] ?? 0);
    if (next === null) return;
    event.preventDefault();
    this.moveCursor(Math.max(0, Math.min(this.tiles.order.length - 1, next)));
  }

  private moveCursor(slot: number): void {
    const ctx = this.canvas.getContext("2d");
    const previous = this.cursor;
    this.cursor = slot;
    if (ctx) this.drawSlots(ctx, [previous, slot], true);
    const tile = this.tiles.order[slot];
    this.announcer.textContent =
      tile === undefined ? "No containers shown." : this.tiles.describe(tile);
  }

  private tileAt(x: number, y: number): number | null {
    const pitch = this.tileSize + GAP;
    const column = Math.floor(x / pitch);
    if (column >= this.columns) return null;
    const slot = Math.floor(y / pitch) * this.columns + column;
    return this.tiles.order[slot] ?? null;
  }

  private openAt(x: number, y: number): void {
    const tile = this.tileAt(x, y);
    if (tile !== null) this.open(tile);
  }

  private open(tile: number): void {
    location.hash = this.tiles.linkOf(tile);
  }

  private renderCounts(): void {
    const counts = this.tiles.counts();
    if (this.counts.childElementCount !== TILE_STATES.length) {
      this.counts.replaceChildren(
        ...TILE_STATES.map((state) => {
          const swatch = h("canvas", { width: 14, height: 14, "aria-hidden": "true" });
          const ctx = swatch.getContext("2d");
          if (ctx) drawTile(ctx, 1, 1, 12, state);
          return h(
            "li",
            { "data-state": state.name },
            swatch,
            h("span", { class: "count" }),
            ` ${state.label}`,
          );
        }),
      );
    }
    for (const item of this.counts.children) {
      const element = item as HTMLElement;
      const count = element.querySelector(".count");
      if (count) count.textContent = ` ${counts.get(element.dataset.state ?? "") ?? 0}`;
    }
  }

  private renderAttention(): void {
    const worst = this.tiles.attention();
    this.attention.replaceChildren(
      ...(worst.length === 0
        ? [h("li", {}, "Nothing: every container is normal or waiting for its first reading.")]
        : worst.map((tile) =>
            h("li", {}, h("a", { href: this.tiles.linkOf(tile) }, this.tiles.describe(tile))),
          )),
    );
    byId("title").textContent =
      `${this.tiles.gateways.length} gateways, ${this.tiles.size} containers`;
  }
}
