import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface WebAsset {
  readonly body: Buffer;
  readonly type: string;
}

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".map": "application/json",
};

/** The page's folder: beside this module in dist/ (the build compiles and copies it there). */
const WEB_DIR = fileURLToPath(new URL("../../dashboard/", import.meta.url));

/**
 * The dashboard's files, read once at start and served from memory: the page, its compiled
 * modules and stylesheet, and the charting library from node_modules. Nothing is loaded from
 * outside the box (a gateway at sea has no internet), and only these names are served, so no
 * request path ever reaches the file system.
 */
export class WebAssets {
  private readonly assets = new Map<string, WebAsset>();
  /** The Content-Security-Policy: only this origin, and the page's one inline import map. */
  readonly contentSecurityPolicy: string;

  constructor(dir = WEB_DIR) {
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch (error) {
      throw new Error(
        `dashboard: its files are missing from ${dir} (run \`npm run build\`): ${(error as Error).message}`,
        { cause: error },
      );
    }
    for (const name of files) {
      const type = TYPES[extname(name)];
      if (type && name !== "index.html") {
        this.assets.set(`/assets/${name}`, { body: readFileSync(join(dir, name)), type });
      }
    }
    const require = createRequire(import.meta.url);
    this.assets.set("/assets/vendor/uplot.js", {
      body: readFileSync(require.resolve("uplot/dist/uPlot.esm.js")),
      type: TYPES[".js"] ?? "",
    });
    this.assets.set("/assets/vendor/uplot.css", {
      body: readFileSync(require.resolve("uplot/dist/uPlot.min.css")),
      type: TYPES[".css"] ?? "",
    });
    // From the sources (a test run by vitest) the page's modules are not compiled: say so.
    const page = this.assets.has("/assets/main.js")
      ? readFileSync(join(dir, "index.html"))
      : Buffer.from(
          "<!doctype html><title>reefer-edge</title><p>The dashboard is not built here: run <code>npm run build</code>.</p>\n",
        );
    this.assets.set("/", { body: page, type: TYPES[".html"] ?? "" });
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page.toString())?.[1];
    const hashes =
      importMap === undefined
        ? ""
        : ` 'sha256-${createHash("sha256").update(importMap).digest("base64")}'`;
    this.contentSecurityPolicy = [
      "default-src 'self'",
      `script-src 'self'${hashes}`,
      // uPlot positions its legend and cursor with inline styles.
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ].join("; ");
  }

  get(path: string): WebAsset | undefined {
    return this.assets.get(path);
  }
}
