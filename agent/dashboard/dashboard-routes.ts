import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { SseStream } from "./sse-stream.js";
import type { WebAssets } from "./web-assets.js";
import type { DashboardInfo } from "../../dashboard/wire.js";

/** One live event, as a stream sends it. */
export interface LiveEvent {
  readonly event: string;
  readonly data: unknown;
}

/** Something a page can watch: a snapshot first, then changes, until unsubscribed. */
export interface LiveSource {
  subscribe(listener: (event: LiveEvent) => void): () => void;
}

/** What the dashboard shows: one gateway (`run`, `demo`) or a fleet (`fleet`). */
export interface DashboardBackend {
  info(): DashboardInfo;
  /** A gateway's live data, or null when no such gateway is here. */
  gateway(id: string): LiveSource | null;
  /** The fleet's tiles; null on a single gateway. */
  fleet(): LiveSource | null;
}

const GATEWAY_EVENTS = /^\/api\/gateways\/([A-Za-z0-9_.:-]{1,128})\/events$/;

/**
 * The dashboard's routes on the gateway's HTTP listener: the page and its files, /api/info, and
 * the live streams as Server-Sent Events. Authentication is the listener's (it runs first).
 */
export class DashboardRoutes {
  private readonly streams = new Set<SseStream>();

  constructor(
    private readonly backend: DashboardBackend,
    private readonly assets: WebAssets,
    private readonly logger: Logger,
  ) {}

  /** Serves the request if it is the dashboard's; false to let the listener answer 404. */
  handle(request: IncomingMessage, response: ServerResponse, path: string): boolean {
    const asset = this.assets.get(path === "/index.html" ? "/" : path);
    if (asset) {
      response
        .writeHead(200, {
          "Content-Type": asset.type,
          "Cache-Control": "no-cache",
          "Content-Security-Policy": this.assets.contentSecurityPolicy,
          "X-Content-Type-Options": "nosniff",
          "Referrer-Policy": "no-referrer",
        })
        .end(request.method === "HEAD" ? undefined : asset.body);
      return true;
    }
    if (path === "/api/info") {
      response
        .writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" })
        .end(JSON.stringify(this.backend.info()));
      return true;
    }
    if (path === "/api/fleet/events") {
      const fleet = this.backend.fleet();
      if (!fleet) return false;
      this.stream(request, response, fleet);
      return true;
    }
    const gateway = GATEWAY_EVENTS.exec(path)?.[1];
    if (gateway !== undefined) {
      const source = this.backend.gateway(gateway);
      if (!source) {
        response.writeHead(404).end(`no gateway ${gateway} here\n`);
        return true;
      }
      this.stream(request, response, source);
      return true;
    }
    return false;
  }

  /** Ends every live stream (the listener is stopping). */
  close(): void {
    for (const stream of this.streams) stream.end();
    this.streams.clear();
  }

  private stream(request: IncomingMessage, response: ServerResponse, source: LiveSource): void {
    const stream = new SseStream(request, response);
    this.streams.add(stream);
    let unsubscribe: (() => void) | null = null;
    stream.onClose(() => {
      this.streams.delete(stream);
      unsubscribe?.();
    });
    try {
      unsubscribe = source.subscribe(({ event, data }) => {
        stream.send(event, data);
      });
    } catch (error) {
      this.logger.error({ err: error }, "dashboard stream failed to start");
      stream.end();
      return;
    }
    if (stream.isClosed) unsubscribe();
  }
}
