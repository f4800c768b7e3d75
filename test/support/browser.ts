import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { requireTool } from "./tools.js";

/**
 * Debian's chromium, driven by playwright-core through its executablePath: never a browser
 * download (these machines reach package registries only). In CI its absence fails the run.
 */
export const CHROMIUM = requireTool("chromium", "apt-get install chromium");

/** Where the browser tests keep their screenshots: CI keeps this folder as an artifact. */
export const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));

export async function launchBrowser(): Promise<Browser> {
  if (!CHROMIUM.path) throw new Error("chromium is not installed");
  return chromium.launch({
    executablePath: CHROMIUM.path,
    // Root (CI) cannot use chromium's sandbox; the pages are our own, on loopback.
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
  });
}

/** A page that records every console error and uncaught exception, for the test to assert none. */
export async function openPage(
  browser: Browser,
  viewport = { width: 1280, height: 900 },
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`page: ${error.message}`));
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}
