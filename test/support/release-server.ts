import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface ReleaseServerFaults {
  /** The first `drops` responses are cut off after `dropAfterBytes` bytes of body. */
  drops?: number;
  dropAfterBytes?: number;
}

/** HTTPS, for a client that is not on this machine's loopback (a qemu guest reaches it). */
export interface ReleaseServerTls {
  readonly cert: string;
  readonly key: string;
  /** The host the URLs name: the address the client reaches 127.0.0.1 by (10.0.2.2 in qemu). */
  readonly urlHost: string;
}

/**
 * A stand-in for S3 serving release packages by pre-signed URL, on 127.0.0.1 and a random port:
 * GET with HTTP Range (206 with Content-Range, 416 past the end), 403 for a URL whose token was
 * expired (`expire`), and faults on the link (responses cut off mid-body). It counts the body
 * bytes it sent, so a test can hold a resumed download to what it cost on the wire.
 */
export class ReleaseServer {
  private readonly files = new Map<string, Buffer>();
  private readonly expired = new Set<string>();
  private readonly uses = new Map<string, number>();
  private maxUses = Infinity;
  private tokens = 0;
  private dropsLeft: number;
  bytesSent = 0;
  requests: { path: string; range: string | undefined; status: number }[] = [];

  private constructor(
    private readonly server: Server,
    private readonly faults: ReleaseServerFaults,
    private readonly origin: (port: number) => string,
  ) {
    this.dropsLeft = faults.drops ?? 0;
    server.on("request", (request, response) => this.serve(request, response));
  }

  static async start(
    faults: ReleaseServerFaults = {},
    tls?: ReleaseServerTls,
  ): Promise<ReleaseServer> {
    // Listening on loopback either way: qemu's user network brings the guest's 10.0.2.2 here.
    const server = tls
      ? createTlsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) })
      : createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new ReleaseServer(server, faults, (port) =>
      tls ? `https://${tls.urlHost}:${port}` : `http://127.0.0.1:${port}`,
    );
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Serves `body` under `name`. */
  put(name: string, body: Buffer): void {
    this.files.set(name, body);
  }

  /** A fresh pre-signed URL of `name`: valid until `expire(url)`. */
  presign(name: string): string {
    return `${this.origin(this.port)}/${name}?X-Amz-Signature=t${++this.tokens}`;
  }

  /** The URL's token is refused from now on (403), as S3 refuses an expired pre-signed URL. */
  expire(url: string): void {
    this.expired.add(new URL(url).searchParams.get("X-Amz-Signature") ?? "");
  }

  /** Every URL serves this many requests, then is refused as expired (a short expiry). */
  limitUses(uses: number): void {
    this.maxUses = uses;
  }

  setDrops(drops: number, dropAfterBytes: number): void {
    this.dropsLeft = drops;
    this.faults.dropAfterBytes = dropAfterBytes;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const range = request.headers.range;
    const answer = (status: number, headers: Record<string, string | number> = {}) => {
      this.requests.push({ path: url.pathname, range, status });
      response.writeHead(status, headers);
    };
    const body = this.files.get(url.pathname.slice(1));
    const token = url.searchParams.get("X-Amz-Signature") ?? "";
    const used = (this.uses.get(token) ?? 0) + 1;
    this.uses.set(token, used);
    if (!token || this.expired.has(token) || used > this.maxUses) {
      answer(403, { "content-type": "application/xml" });
      response.end(
        "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
      );
      return;
    }
    if (!body) {
      answer(404);
      response.end();
      return;
    }
    let start = 0;
    let end = body.length - 1;
    if (range !== undefined) {
      const match = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!match || Number(match[1]) >= body.length) {
        answer(416, { "content-range": `bytes */${body.length}` });
        response.end();
        return;
      }
      start = Number(match[1]);
      if (match[2]) end = Math.min(end, Number(match[2]));
      answer(206, {
        "content-range": `bytes ${start}-${end}/${body.length}`,
        "content-length": end - start + 1,
      });
    } else {
      answer(200, { "content-length": body.length });
    }
    let slice = body.subarray(start, end + 1);
    const drop = this.dropsLeft > 0;
    if (drop) {
      this.dropsLeft--;
      slice = slice.subarray(0, this.faults.dropAfterBytes ?? 0);
    }
    this.bytesSent += slice.length;
    if (drop) {
      // The link drops mid-body: what was written reaches the client, then the socket dies.
      response.write(slice, () => response.socket?.destroy());
      return;
    }
    response.end(slice);
  }
}
