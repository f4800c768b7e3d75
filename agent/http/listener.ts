import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { listenAddress, type HttpConfig } from "../../config/http-schema.js";
import type { DashboardRoutes } from "../dashboard/dashboard-routes.js";
import type { Health } from "../../core/gateway-status.js";

/** What the listener serves, read at each request; a route without its source is not served. */
export interface HttpSources {
  metrics?(): string;
  health?(): Health;
  /** The dashboard: its page, files and live streams. */
  readonly dashboard?: DashboardRoutes;
}

/** The cookie a browser keeps after opening the page once with ?token=. */
const SESSION_COOKIE = "reefer_edge_session";

/** The listener cannot start: a port in use, an unusable token file. */
export class HttpListenerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HttpListenerError";
  }
}

/**
 * Reads the bearer token: like the private key, a file other users can read is refused. The
 * token is never logged.
 */
export function readTokenFile(file: string): string {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch (error) {
    throw new HttpListenerError(`http.tokenFile: ${file}: cannot be read`, { cause: error });
  }
  if ((mode & 0o007) !== 0) {
    throw new HttpListenerError(
      `http.tokenFile: ${file}: readable by other users (mode ${mode.toString(8).padStart(4, "0")}); run: chmod 600 ${file}`,
    );
  }
  const token = readFileSync(file, "utf8").trim();
  if (token.length < 16) {
    throw new HttpListenerError(
      `http.tokenFile: ${file}: the token must be at least 16 characters`,
    );
  }
  return token;
}

/**
 * The gateway's HTTP listener (node:http, no framework): GET /metrics in the Prometheus text
 * format, GET /healthz (200 or 503, JSON) and the dashboard. Off unless http.listen is set;
 * loopback unless a bearer token is configured, and with a token every request must carry it:
 * as `Authorization: Bearer`, or, for a browser (whose EventSource cannot send that header), as
 * a session cookie set by opening any page once with `?token=`.
 */
export class HttpListener {
  private server: Server | null = null;
  private tokenDigest: Buffer | null = null;
  private sessionDigest: Buffer | null = null;
  private session = "";

  constructor(
    private readonly config: HttpConfig,
    private readonly sources: HttpSources,
    private readonly logger: Logger,
  ) {}

  /** Starts listening; resolves with the address (the port, when 0 was asked). */
  async start(): Promise<AddressInfo> {
    const listen = this.config.listen;
    if (listen === undefined) throw new HttpListenerError("http.listen is not set");
    const { host, port } = listenAddress(listen);
    if (this.config.tokenFile !== undefined) {
      const token = readTokenFile(this.config.tokenFile);
      this.tokenDigest = digest(token);
      // The cookie holds a value derived from the token, not the token itself.
      this.session = createHash("sha256")
        .update(`reefer-edge-session:${token}`)
        .digest("base64url");
      this.sessionDigest = digest(this.session);
    }
    const server = createServer((request, response) => {
      this.handle(request, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error: NodeJS.ErrnoException) => {
        reject(
          new HttpListenerError(
            error.code === "EADDRINUSE"
              ? `http.listen: ${listen} is in use by another process`
              : `http.listen: cannot listen on ${listen}: ${error.message}`,
            { cause: error },
          ),
        );
      });
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    const routes = [
      this.sources.metrics ? "/metrics" : null,
      this.sources.health ? "/healthz" : null,
      this.sources.dashboard ? "/ (dashboard)" : null,
    ].filter((r) => r !== null);
    this.logger.info(
      { address: address.address, port: address.port },
      `HTTP listener up: ${routes.join(", ")}`,
    );
    return address;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    this.sources.dashboard?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://gateway");
    const path = url.pathname;
    if (!this.authorized(request)) {
      const offered = url.searchParams.get("token");
      if (
        offered !== null &&
        this.tokenDigest &&
        timingSafeEqual(digest(offered), this.tokenDigest)
      ) {
        // A browser opened a link with the token: keep a session cookie, drop the token from
        // the address bar (and from the history and any Referer).
        url.searchParams.delete("token");
        response
          .writeHead(303, {
            "Set-Cookie": `${SESSION_COOKIE}=${this.session}; HttpOnly; SameSite=Strict; Path=/`,
            Location: `${path}${url.search}`,
          })
          .end();
        return;
      }
      response
        .writeHead(401, { "WWW-Authenticate": 'Bearer realm="reefer-edge"' })
        .end(
          "unauthorized: send Authorization: Bearer <token>, or open /?token=<token> once in a browser\n",
        );
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { Allow: "GET, HEAD" }).end("method not allowed\n");
      return;
    }
    try {
      if (path === "/metrics" && this.sources.metrics) {
        response
          .writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" })
          .end(this.sources.metrics());
      } else if (path === "/healthz" && this.sources.health) {
        const health = this.sources.health();
        response
          .writeHead(health.status === "ok" ? 200 : 503, { "Content-Type": "application/json" })
          .end(JSON.stringify(health) + "\n");
      } else if (!this.sources.dashboard?.handle(request, response, path)) {
        response.writeHead(404).end("not found: try /metrics, /healthz or /\n");
      }
    } catch (error) {
      this.logger.error({ err: error, path }, "HTTP request failed");
      if (!response.headersSent) response.writeHead(500).end("internal error\n");
      else response.end();
    }
  }

  /**
   * With a token, the request must carry it, or the session cookie derived from it; compared in
   * constant time, by digest.
   */
  private authorized(request: IncomingMessage): boolean {
    if (!this.tokenDigest || !this.sessionDigest) return true;
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match?.[1] !== undefined && timingSafeEqual(digest(match[1]), this.tokenDigest))
      return true;
    const cookie = sessionCookie(request.headers.cookie);
    return cookie !== null && timingSafeEqual(digest(cookie), this.sessionDigest);
  }
}

function sessionCookie(header: string | undefined): string | null {
  for (const part of (header ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === SESSION_COOKIE) return value.join("=");
  }
  return null;
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}
