import type { IncomingMessage, ServerResponse } from "node:http";

/** Past this many bytes unsent to one client, the client is too slow: its stream ends. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** A comment line this often keeps proxies and phones from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/**
 * One Server-Sent Events stream (the browser's EventSource reconnects by itself). Written by
 * hand on node:http: the format is four lines of text, and a framework would be the gateway's
 * largest dependency. A client that cannot keep up is dropped rather than buffered without end:
 * its EventSource reconnects and starts again from a snapshot.
 */
export class SseStream {
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly closers: (() => void)[] = [];

  constructor(
    request: IncomingMessage,
    private readonly response: ServerResponse,
  ) {
    response.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
    });
    // Tells the browser to come back after 2 s when the stream drops.
    response.write("retry: 2000\n\n");
    this.heartbeat = setInterval(() => this.write(": keep-alive\n\n"), HEARTBEAT_MS);
    this.heartbeat.unref();
    request.socket.setNoDelay(true);
    response.on("close", () => this.end());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends one event; false when the stream has ended. */
  send(event: string, data: unknown): boolean {
    return this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  onClose(closer: () => void): void {
    if (this.closed) closer();
    else this.closers.push(closer);
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    if (!this.response.writableEnded) this.response.end();
    for (const closer of this.closers.splice(0)) closer();
  }

  private write(text: string): boolean {
    if (this.closed) return false;
    if (this.response.writableLength > MAX_BUFFERED_BYTES) {
      this.end();
      return false;
    }
    this.response.write(text);
    return true;
  }
}
