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

/** The worst state a tile's flags carry (an alarm outranks everything). */
export function stateOf(flags: number): TileState {
  for (const state of TILE_STATES) if (state.flag !== 0 && (flags & state.flag) !== 0) return state;
  return TILE_STATES[TILE_STATES.length - 1] as TileState;
}

/** Its rank, worst first: the "state" sort. */
export function severityOf(flags: number): number {
  return TILE_STATES.indexOf(stateOf(flags));
}

/** Draws a tile's shape at (x, y), `size` wide: the shape alone tells the state. */
export function drawTile(
  ctx: CanvasRenderingContext2D,
  x: number,
  y: number,
  size: number,
  state: TileState,
): void {
  ctx.fillStyle = state.colour;
  ctx.strokeStyle = state.colour;
  switch (state.shape) {
    case "square":
      ctx.fillRect(x, y, size, size);
      return;
    case "triangle":
      ctx.beginPath();
      ctx.moveTo(x + size / 2, y);
      ctx.lineTo(x + size, y + size);
      ctx.lineTo(x, y + size);
      ctx.closePath();
      ctx.fill();
      return;
    case "hollow": {
      const w = Math.max(1, Math.round(size / 6));
      ctx.lineWidth = w;
      ctx.strokeRect(x + w / 2, y + w / 2, size - w, size - w);
      return;
    }
    case "half":
      ctx.fillRect(x, y + size / 2, size, size / 2);
      ctx.lineWidth = 1;
      ctx.strokeRect(x + 0.5, y + 0.5, size - 1, size - 1);
      return;
    case "diamond":
      ctx.beginPath();
      ctx.moveTo(x + size / 2, y);
      ctx.lineTo(x + size, y + size / 2);
      ctx.lineTo(x + size / 2, y + size);
      ctx.lineTo(x, y + size / 2);
      ctx.closePath();
      ctx.fill();
      return;
    case "dot":
      ctx.beginPath();
      ctx.arc(x + size / 2, y + size / 2, size / 4, 0, Math.PI * 2);
      ctx.fill();
      return;
  }
}
