import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { listenAddress, type HttpConfig } from "../../config/http-schema.js";
import type { Health } from "./health.js";

/** What the listener serves, read at each request. */
export interface HttpSources {
  metrics(): string;
  health(): Health;
}

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
 * format and GET /healthz (200 or 503, JSON). Off unless http.listen is set; loopback unless a
 * bearer token is configured, and with a token every request must carry it.
 */
export class HttpListener {
  private server: Server | null = null;
  private tokenDigest: Buffer | null = null;

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
    if (this.config.tokenFile !== undefined)
      this.tokenDigest = digest(readTokenFile(this.config.tokenFile));
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
    this.logger.info(
      { address: address.address, port: address.port },
      "HTTP listener up: /metrics, /healthz",
    );
    return address;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    if (!this.authorized(request)) {
      response
        .writeHead(401, { "WWW-Authenticate": 'Bearer realm="reefer-edge"' })
        .end("unauthorized\n");
      return;
    }
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { Allow: "GET, HEAD" }).end("method not allowed\n");
      return;
    }
    try {
      if (path === "/metrics") {
        response
          .writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" })
          .end(this.sources.metrics());
      } else if (path === "/healthz") {
        const health = this.sources.health();
        response
          .writeHead(health.status === "ok" ? 200 : 503, { "Content-Type": "application/json" })
          .end(JSON.stringify(health) + "\n");
      } else {
        response.writeHead(404).end("not found: try /metrics or /healthz\n");
      }
    } catch (error) {
      this.logger.error({ err: error, path }, "HTTP request failed");
      response.writeHead(500).end("internal error\n");
    }
  }

  /** With a token, the request must carry it; compared in constant time, by digest. */
  private authorized(request: IncomingMessage): boolean {
    if (!this.tokenDigest) return true;
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), this.tokenDigest);
  }
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}
