import { PALETTE } from "./palette.js";
import { TILE } from "./wire.js";

/** A tile's state, worst first: each has a colour, a shape and a word. */
export const TILE_STATES = [
  {
    name: "alarm",
    flag: TILE.alarm,
    label: "Alarm",
    colour: PALETTE.vermillion,
    shape: "triangle",
  },
  { name: "offline", flag: TILE.offline, label: "Offline", colour: PALETTE.grey, shape: "hollow" },
  { name: "backlog", flag: TILE.backlog, label: "Backlog", colour: PALETTE.orange, shape: "half" },
  {
    name: "clock",
    flag: TILE.clockUntrusted,
    label: "Clock not synced",
    colour: PALETTE.purple,
    shape: "diamond",
  },
  {
    name: "waiting",
    flag: TILE.noData,
    label: "No reading yet",
    colour: PALETTE.skyBlue,
    shape: "dot",
  },
  { name: "ok", flag: 0, label: "Normal", colour: PALETTE.green, shape: "square" },
] as const;

export type TileState = (typeof TILE_STATES)[number];

/** Each flags value's state, looked up rather than searched: 10,000 tiles a second. */
const BY_FLAGS: readonly TileState[] = Array.from({ length: 32 }, (_, flags) => {
  for (const state of TILE_STATES) if (state.flag !== 0 && (flags & state.flag) !== 0) return state;
  return TILE_STATES[TILE_STATES.length - 1] as TileState;
});
const SEVERITY: readonly number[] = BY_FLAGS.map((state) => TILE_STATES.indexOf(state));

/** The worst state a tile's flags carry (an alarm outranks everything). */
export function stateOf(flags: number): TileState {
  return BY_FLAGS[flags & 31] as TileState;
}

/** Its rank, worst first: the "state" sort. */
export function severityOf(flags: number): number {
  return SEVERITY[flags & 31] ?? 0;
}

/**
 * Draws many tiles of one state as one path: a canvas spends its time in state changes and
 * fills, not in the shapes, so 10,000 tiles take six fills rather than 10,000.
 */
export function drawTiles(
  ctx: CanvasRenderingContext2D,
  state: TileState,
  xs: readonly number[],
  ys: readonly number[],
  size: number,
): void {
  if (xs.length === 0) return;
  ctx.fillStyle = state.colour;
  ctx.strokeStyle = state.colour;
  ctx.beginPath();
  const half = size / 2;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] ?? 0;
    const y = ys[i] ?? 0;
    switch (state.shape) {
      case "square":
        ctx.rect(x, y, size, size);
        break;
      case "triangle":
        ctx.moveTo(x + half, y);
        ctx.lineTo(x + size, y + size);
        ctx.lineTo(x, y + size);
        ctx.closePath();
        break;
      case "hollow": {
        const w = Math.max(1, Math.round(size / 6));
        ctx.rect(x + w / 2, y + w / 2, size - w, size - w);
        break;
      }
      case "half":
        ctx.rect(x, y + half, size, half);
        break;
      case "diamond":
        ctx.moveTo(x + half, y);
        ctx.lineTo(x + size, y + half);
        ctx.lineTo(x + half, y + size);
        ctx.lineTo(x, y + half);
        ctx.closePath();
        break;
      case "dot":
        ctx.moveTo(x + half + size / 4, y + half);
        ctx.arc(x + half, y + half, size / 4, 0, Math.PI * 2);
        break;
    }
  }
  if (state.shape === "hollow") {
    ctx.lineWidth = Math.max(1, Math.round(size / 6));
    ctx.stroke();
    return;
  }
  ctx.fill();
  if (state.shape === "half") {
    // The outline of the whole tile: a half-full box, not a bar.
    ctx.beginPath();
    for (let i = 0; i < xs.length; i++)
      ctx.rect((xs[i] ?? 0) + 0.5, (ys[i] ?? 0) + 0.5, size - 1, size - 1);
    ctx.lineWidth = 1;
    ctx.stroke();
  }
}

/** Draws one tile (a legend's swatch). */
export function drawTile(
  ctx: CanvasRenderingContext2D,
  x: number,
  y: number,
  size: number,
  state: TileState,
): void {
  drawTiles(ctx, state, [x], [y], size);
}
