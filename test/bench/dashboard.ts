import { parseArgs } from "node:util";
import pino from "pino";
import { DashboardRoutes } from "../../agent/dashboard/dashboard-routes.js";
import { WebAssets } from "../../agent/dashboard/web-assets.js";
import { TILE } from "../../dashboard/wire.js";
import { FleetBoard } from "../../fleet/fleet-board.js";
import { HttpListener } from "../../agent/http/listener.js";
import { launchBrowser } from "../support/browser.js";
import { formatResults, type BenchResult } from "./report.js";

/**
 * `npm run bench:dashboard`: the fleet view in Debian's chromium at 10,000 containers, measured
 * by the page itself. The server is the real one (HttpListener, DashboardRoutes, FleetBoard,
 * the built page) fed by a producer in this process instead of agents, so the browser's side is
 * measured alone and the worst case can be forced: every tile changing every second. The
 * baseline, in the same page and run: drawing 10,000 plain squares on a canvas, the least any
 * update that touches every tile must cost.
 */
const { values } = parseArgs({
  options: {
    containers: { type: "string", default: "10000" },
    seconds: { type: "string", default: "20" },
  },
});
const containers = Number(values.containers);
const seconds = Number(values.seconds);
const PER_GATEWAY = 10;
const FRAME_MS = 1000 / 60;
const say = (text: string) => process.stdout.write(`${text}\n`);

const gateways = Array.from(
  { length: Math.ceil(containers / PER_GATEWAY) },
  (_, i) => `bench-${String(i).padStart(5, "0")}`,
);
const board = new FleetBoard(
  gateways,
  Array.from({ length: PER_GATEWAY }, (_, j) => `C${j + 1}`),
  () => [],
);
const logger = pino({ level: "warn" });
const listener = new HttpListener(
  { listen: "127.0.0.1:0", dashboard: true },
  {
    dashboard: new DashboardRoutes(
      {
        info: () => ({ mode: "fleet", version: "bench" }),
        gateway: () => null,
        fleet: () => board.fleet(),
      },
      new WebAssets(),
      logger,
    ),
  },
  logger,
);
const address = await listener.start();

/** Seeded states: 97 % normal, the rest alarming, in backlog or offline, as a fleet rehearses. */
let seed = 7;
const random = () => {
  seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
  return seed / 2 ** 32;
};
const stateDraw = () => {
  const r = random();
  return r < 0.97 ? 0 : r < 0.985 ? TILE.alarm : r < 0.995 ? TILE.backlog : TILE.offline;
};
/** Changes `count` tiles (all of them when count = containers) and sends the second's update. */
function produce(count: number, second: number): void {
  const tiles: number[] = [];
  const flags: number[] = [];
  const temperatures: number[] = [];
  for (let i = 0; i < count; i++) {
    tiles.push(count === containers ? i : Math.floor(random() * containers));
    flags.push(stateDraw());
    temperatures.push(Math.round(40 + random() * 30));
  }
  board.onMessage({ type: "tiles", tiles, flags, temperatures });
  board.tick(
    {
      connected: gateways.length,
      captured: second * count,
      acknowledged: second * count,
      backlog: 0,
    },
    second * 1000,
  );
}
produce(containers, 0);

const browser = await launchBrowser();
const results: BenchResult[] = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`http://127.0.0.1:${address.port}/`);
  await page.waitForFunction(
    `window.reeferDashboard?.fleet?.firstRenderMs !== null && window.reeferDashboard?.fleet?.tiles === ${containers}`,
  );
  const firstRender = await page.evaluate<number>("window.reeferDashboard.fleet.firstRenderMs");
  const baseline = await page.evaluate<number>(`(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 1100; canvas.height = 1100;
    document.body.append(canvas);
    const ctx = canvas.getContext("2d");
    const times = [];
    for (let round = 0; round < 20; round++) {
      const began = performance.now();
      for (let i = 0; i < ${containers}; i++) {
        ctx.fillStyle = i % 7 === 0 ? "#D55E00" : "#009E73";
        ctx.fillRect((i % 100) * 11, Math.floor(i / 100) * 11, 10, 10);
      }
      ctx.getImageData(0, 0, 1, 1);
      times.push(performance.now() - began);
    }
    canvas.remove();
    times.sort((a, b) => a - b);
    return times[10];
  })()`);

  for (const [label, perSecond, sorted] of [
    ["every tile changes each second", containers, false],
    ["a tenth changes each second (1 reading / 10 s)", Math.round(containers / 10), false],
    [
      "every tile changes each second, sorted by state (a full re-layout each time)",
      containers,
      true,
    ],
  ] as const) {
    if (sorted) await page.locator("#sort").selectOption("state");
    await page.evaluate(
      "window.reeferDashboard.fleet.applyMs.length = 0; window.reeferDashboard.fleet.changedTiles.length = 0",
    );
    for (let s = 1; s <= seconds; s++) {
      produce(perSecond, s);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const applied = (await page.evaluate<number[]>("window.reeferDashboard.fleet.applyMs")).sort(
      (a, b) => a - b,
    );
    const p = (q: number) =>
      applied[Math.min(applied.length - 1, Math.floor(q * applied.length))] ?? 0;
    say(
      `${label}: ${applied.length} updates of ${perSecond} tiles; apply + draw median ${p(0.5).toFixed(1)} ms, ` +
        `p95 ${p(0.95).toFixed(1)} ms, max ${(applied.at(-1) ?? 0).toFixed(1)} ms (frame budget ${FRAME_MS.toFixed(1)} ms)`,
    );
    results.push({
      name: `fleet view: apply a second of updates, ${perSecond.toLocaleString("en-US")} of ${containers.toLocaleString("en-US")} tiles changed${sorted ? ", sorted by state" : ""} (p95)`,
      unit: "ms",
      value: p(0.95),
      baselineName: "10,000 bare canvas squares",
      baseline,
      target: `≤ one frame (${FRAME_MS.toFixed(1)} ms)`,
      targetRatio: FRAME_MS / baseline,
      lowerIsBetter: true,
      note: `median ${p(0.5).toFixed(1)} ms, max ${(applied.at(-1) ?? 0).toFixed(1)} ms over ${applied.length} updates`,
    });
  }
  results.unshift({
    name: `fleet view: first render of ${containers.toLocaleString("en-US")} tiles after navigation`,
    unit: "ms",
    value: firstRender,
    baselineName: "10,000 bare canvas squares",
    baseline,
    target: "≤ 2,000 ms",
    targetRatio: 2000 / baseline,
    lowerIsBetter: true,
  });
} finally {
  await browser.close();
  await listener.stop();
}
say("");
say(formatResults(results));
