import type { TileState } from "./tile-state.js";

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
