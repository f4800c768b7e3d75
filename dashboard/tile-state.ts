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
