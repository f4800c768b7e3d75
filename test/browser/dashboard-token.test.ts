import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli, type RunningCli } from "../support/cli.js";
import { CHROMIUM, launchBrowser } from "../support/browser.js";
import { freePort } from "../support/ports.js";
import { makeTempDir } from "../support/tmp.js";
import { waitFor } from "../support/wait-for.js";

/**
 * `reefer-edge run` with a bearer token on its listener (required before it may listen off
 * loopback): a browser without the token gets nothing; one link with ?token= opens the page and
 * its live stream, and leaves the token out of the address bar.
 */
describe.skipIf(CHROMIUM.skip)("the dashboard behind a token, in a real browser", () => {
  const temp = makeTempDir("reefer-edge-token-browser-");
  const token = "quay-7-technician-token-0042";
  let agent: RunningCli;
  let browser: Browser;
  let base = "";

  beforeAll(async () => {
    const tokenFile = join(temp.dir, "token");
    writeFileSync(tokenFile, `${token}\n`);
    chmodSync(tokenFile, 0o600);
    const port = await freePort();
    const config = join(temp.dir, "agent.yaml");
    writeFileSync(
      config,
      `version: 1
gateway: { id: quay-gw-7 }
mqtt: { url: "mqtt://127.0.0.1:${await freePort()}" }
buffer: { path: "${join(temp.dir, "outbox.db")}" }
sampling: { intervalMs: 500 }
containers:
  - { id: K1, product: P01, driver: { type: simulated, seed: 1 } }
  - { id: K2, product: P03, driver: { type: simulated, seed: 2 } }
http: { listen: "127.0.0.1:${port}", tokenFile: "${tokenFile}" }
log: { level: warn }
`,
    );
    agent = startCli(["run", "--config", config]);
    base = `http://127.0.0.1:${port}`;
    await waitFor(
      "the listener to answer 401 without the token",
      async () =>
        (await fetch(`${base}/healthz`).then(
          (r) => r.status,
          () => 0,
        )) === 401,
      20_000,
      { detail: () => agent.stderr },
    );
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser.close();
    agent.child.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    temp.cleanup();
  });

  it("refuses the page without the token; one link with it opens the live page", async () => {
    const stranger = await browser.newContext();
    const refused = await (await stranger.newPage()).goto(`${base}/`);
    expect(refused?.status()).toBe(401);
    expect(await refused?.text()).toContain("unauthorized");
    await stranger.close();

    const technician = await browser.newContext();
    const page = await technician.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${base}/?token=${token}`);
    expect(page.url()).toBe(`${base}/`);
    await expect.poll(() => page.locator("button.card").count()).toBe(2);
    await expect.poll(() => page.locator("#stream-state").getAttribute("data-state")).toBe("live");
    // Offline at this quay: the page says so in words, with the backlog it holds.
    await expect
      .poll(() => page.locator(".status").getAttribute("data-connection"))
      .not.toBe("connected");
    await expect
      .poll(() => page.locator(".status").getAttribute("data-depth").then(Number))
      .toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await technician.close();
  });
});
