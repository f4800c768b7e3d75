import { join } from "node:path";
import type { Browser } from "playwright-core";
import { stringify } from "yaml";
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli, type RunningCli } from "../support/cli.js";
import { CHROMIUM, launchBrowser, openPage, screenshot } from "../support/browser.js";
import { makeTempDir } from "../support/tmp.js";
import { requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const GATEWAYS = 200;
const PER_GATEWAY = 50;

/**
 * `reefer-edge fleet --http`: 10,000 simulated containers (200 real agents of 50 each, against
 * a Mosquitto the fleet starts) on the fleet view in Debian's chromium: every tile drawn, the
 * filters and the sort, a keyboard drill-down to one gateway's live view, and back. How fast it
 * renders is measured by the page itself and printed here; the figures against a frame budget
 * are `npm run bench:dashboard`'s (BENCHMARKS.md), not assertions on a shared machine.
 */
describe.skipIf(CHROMIUM.skip || mosquitto.skip)("the fleet's dashboard in a real browser", () => {
  const temp = makeTempDir("reefer-edge-fleet-browser-");
  let fleet: RunningCli;
  let browser: Browser;
  let url = "";

  beforeAll(async () => {
    const file = join(temp.dir, "fleet.yaml");
    writeFileSync(
      file,
      stringify({
        version: 1,
        gateways: GATEWAYS,
        containersPerGateway: PER_GATEWAY,
        idPrefix: "board",
        seed: 5,
        scenarios: { normal: 90, "power-off": 10 },
        dataDir: join(temp.dir, "data"),
        broker: { start: "mosquitto", binary: mosquitto.path },
        ramp: { connectsPerSecond: 100 },
        observe: false,
        durationSeconds: 900,
        drainTimeoutSeconds: 120,
        http: { listen: "127.0.0.1:0" },
        agent: {
          // 10,000 containers at one reading every 20 s: 500 tiles change each second.
          sampling: { intervalMs: 20_000 },
          rules: { power: { graceSeconds: 0 } },
        },
      }),
    );
    fleet = startCli(["fleet", "--file", file]);
    await waitFor("the dashboard's URL", () => /"url":"(http:[^"]+)"/.test(fleet.stderr), 60_000, {
      detail: () => fleet.stderr,
    });
    url = /"url":"(http:[^"]+)"/.exec(fleet.stderr)?.[1] ?? "";
    browser = await launchBrowser();
  }, 90_000);

  afterAll(async () => {
    await browser.close();
    fleet.child.kill("SIGINT");
    const code = await fleet.exited;
    temp.cleanup();
    expect(code, fleet.stderr.slice(-2000)).toBe(0);
  }, 240_000);

  it("draws 10,000 tiles, filters and sorts them, and drills down to a gateway by keyboard", async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { page, errors } = await openPage(browser);
    await page.goto(url);
    const canvas = page.locator("canvas.tiles");
    await expect.poll(() => canvas.getAttribute("data-shown")).toBe(String(GATEWAYS * PER_GATEWAY));
    const count = (state: string) =>
      page
        .locator(`.counts li[data-state="${state}"] .count`)
        .textContent()
        .then((t) => Number(t));
    // Every container connected and read once (ramp, then one sampling interval).
    await expect
      .poll(async () => [await count("waiting"), await count("offline")], {
        timeout: 150_000,
        interval: 1000,
      })
      .toEqual([0, 0]);
    await expect.poll(() => count("alarm"), { timeout: 60_000, interval: 1000 }).toBeGreaterThan(0);

    // The page's own timings of the fleet view it first drew.
    const timings = await page.evaluate<{
      firstRenderMs: number;
      applyMs: number[];
      changedTiles: number[];
    }>("window.reeferDashboard.fleet");
    const sorted = [...timings.applyMs].sort((a, b) => a - b);
    console.log(
      `fleet view, 10,000 tiles: first render ${Math.round(timings.firstRenderMs)} ms after navigation; ` +
        `${sorted.length} updates (median ${median(timings.changedTiles)} tiles) applied in median ` +
        `${median(sorted).toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms`,
    );
    // Alarming only: exactly the alarmed tiles (read together, between two updates).
    await page.getByLabel("Alarming").check();
    const [shown, alarmed] = await page.evaluate<[number, number]>(
      `[Number(document.querySelector("canvas.tiles").dataset.shown),
        Number(document.querySelector('.counts li[data-state="alarm"] .count').textContent)]`,
    );
    expect(shown).toBe(alarmed);
    expect(shown).toBeLessThan(GATEWAYS * PER_GATEWAY);
    await page.getByLabel("Alarming").uncheck();
    await page.locator("#sort").selectOption("state");
    await expect.poll(() => canvas.getAttribute("data-shown")).toBe(String(GATEWAYS * PER_GATEWAY));
    await page.locator("#sort").selectOption("id");
    await screenshot(page, "dashboard-fleet.png");

    // The keyboard: the third tile is board-00000's third container.
    await canvas.focus();
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.evaluate("location.hash"))
      .toBe("#/gateway/board-00000/board-00000-C3");
    await expect.poll(() => page.locator("button.card").count()).toBe(PER_GATEWAY);
    expect(
      await page
        .locator('button.card[data-container="board-00000-C3"]')
        .getAttribute("aria-pressed"),
    ).toBe("true");
    // Relayed from the worker that runs it: status now, readings within an interval.
    await expect
      .poll(() => page.locator(".status").getAttribute("data-connection"))
      .toBe("connected");
    await expect
      .poll(() => page.locator(".charts").getAttribute("data-points").then(Number), {
        timeout: 45_000,
        interval: 1000,
      })
      .toBeGreaterThan(0);
    await screenshot(page, "dashboard-fleet-gateway.png");
    await page.getByRole("link", { name: "← Fleet" }).click();
    await expect.poll(() => canvas.getAttribute("data-shown")).toBe(String(GATEWAYS * PER_GATEWAY));

    expect(errors).toEqual([]);
  }, 400_000);
});

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
