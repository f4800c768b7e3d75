import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli, type RunningCli } from "../support/cli.js";
import { CHROMIUM, launchBrowser, openPage, screenshot } from "../support/browser.js";
import { makeTempDir } from "../support/tmp.js";

/**
 * `reefer-edge demo` as a new user runs it (the built CLI), its dashboard in Debian's chromium:
 * four containers, C03's temperature climbing on the chart and its alert within the demo's first
 * minute, nothing wrong in the console, usable by keyboard and on a phone.
 */
describe.skipIf(CHROMIUM.skip)("the demo's dashboard in a real browser", () => {
  const data = makeTempDir("reefer-edge-demo-browser-");
  let demo: RunningCli;
  let browser: Browser;
  let url = "";

  beforeAll(async () => {
    demo = startCli(["demo", "--duration", "300", "--data", data.dir]);
    await demo.waitForOutput(/dashboard: (http:\/\/\S+)/);
    url = /dashboard: (http:\/\/\S+)/.exec(demo.stdout)?.[1] ?? "";
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser.close();
    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
    data.cleanup();
  });

  it("shows the four containers; C03 climbs on the chart and alarms within the first minute", async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { page, errors } = await openPage(browser);
    await page.goto(url);
    const cards = page.locator("button.card");
    await expect.poll(() => cards.count()).toBe(4);
    const ids = await Promise.all(
      (await cards.all()).map((card) => card.getAttribute("data-container")),
    );
    expect(ids).toEqual(["C01", "C02", "C03", "C04"]);

    // By keyboard alone: Tab to C03's card, Enter selects it.
    for (let i = 0; i < 30; i++) {
      const focused = await page.evaluate<string | undefined>(
        "document.activeElement?.dataset?.container",
      );
      if (focused === "C03") break;
      await page.keyboard.press("Tab");
    }
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.locator('button.card[data-container="C03"]').getAttribute("aria-pressed"))
      .toBe("true");
    const chart = page.locator('.charts[data-container="C03"]');
    await expect.poll(() => chart.count()).toBe(1);

    // The compressor fails 10 model minutes in (10 s at 60×): the return air warms.
    await expect
      .poll(
        async () =>
          Number(await chart.getAttribute("data-max-temperature")) -
          Number(await chart.getAttribute("data-first-temperature")),
        { timeout: 90_000, interval: 1000 },
      )
      .toBeGreaterThan(2);
    const alert = page.locator('#detail-alerts li[data-container="C03"]').first();
    await expect.poll(() => alert.count(), { timeout: 90_000, interval: 1000 }).toBe(1);
    // Within the demo's first minute of readings, by the readings' own times (not this machine's speed).
    const alertAt = Number(await alert.getAttribute("data-at"));
    const firstReadingAt = Number(await chart.getAttribute("data-first-at"));
    expect(alertAt - firstReadingAt).toBeGreaterThan(0);
    expect(alertAt - firstReadingAt).toBeLessThanOrEqual(60_000);
    expect(await page.locator('button.card[data-container="C03"]').getAttribute("data-state")).toBe(
      "alarm",
    );
    // Its state in words, not colour alone.
    expect(await page.locator('button.card[data-container="C03"] .badge').textContent()).toMatch(
      /Alarm: /,
    );
    await screenshot(page, "dashboard-demo.png");
    expect(errors).toEqual([]);
  }, 150_000);

  it("fits a phone screen without sideways scrolling", async () => {
    const { page, errors } = await openPage(browser, { width: 390, height: 844 });
    await page.goto(url);
    await expect.poll(() => page.locator("button.card").count()).toBe(4);
    await expect.poll(() => page.locator(".charts canvas").count()).toBeGreaterThan(0);
    // A string: this project's TypeScript has no DOM types (the page's code has its own).
    const overflow = await page.evaluate(
      "document.documentElement.scrollWidth - window.innerWidth",
    );
    expect(Number(overflow)).toBeLessThanOrEqual(0);
    await screenshot(page, "dashboard-demo-phone.png");
    expect(errors).toEqual([]);
  });
});
