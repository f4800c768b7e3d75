import { createServer, Socket, type AddressInfo, type Server } from "node:net";

export type LinkFault =
  | { kind: "none" }
  | { kind: "latency"; ms: number }
  | { kind: "bandwidth"; bytesPerSecond: number }
  /** A satellite link: latency and a bandwidth cap at once. */
  | { kind: "slow"; latencyMs: number; bytesPerSecond: number }
  /** Forward nothing and close nothing: a half-open link at sea. */
  | { kind: "blackhole" };

/**
 * A TCP proxy on 127.0.0.1 between agents and the broker that injects link faults: the fleet
 * simulator's partition and slow link, and the tests' outages. Written here rather than taken
 * from a library because it must switch faults on live connections (netem would need root and a
 * kernel that has it; toxiproxy is a Go server). TLS passes through untouched. `reset()`
 * destroys every connection at once.
 */
export class LinkProxy {
  private fault: LinkFault = { kind: "none" };
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<LinkProxy> {
    // The server's handler needs the proxy, which needs the server's port: a holder breaks the cycle.
    const holder: { proxy?: LinkProxy } = {};
    const server = createServer((client) => {
      const proxy = holder.proxy;
      const upstream = new Socket();
      upstream.connect(targetPort, targetHost);
      proxy?.pipe(client, upstream);
      proxy?.pipe(upstream, client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", close).on("close", close);
      upstream.on("error", close).on("close", close);
      proxy?.sockets.add(client).add(upstream);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const proxy = new LinkProxy(server, (server.address() as AddressInfo).port);
    holder.proxy = proxy;
    return proxy;
  }

  set(fault: LinkFault): void {
    this.fault = fault;
  }

  /** Connection resets: every open connection is destroyed. */
  reset(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /**
   * The broker unreachable, as a stopped broker is to the agent: every connection is cut and new
   * ones are refused until `up`. The broker itself and the test's monitor, which connects to it
   * directly, carry on: an outage then never crosses the observer's own session.
   */
  async down(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.reset();
    await closed;
  }

  /** Accepts connections again on the same port. */
  async up(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(from: Socket, to: Socket): void {
    let budgetAt = Date.now();
    let budget = 0;
    from.on("data", (chunk: Buffer) => {
      const fault = this.fault;
      if (fault.kind === "blackhole") return; // swallowed: the sender sees no error, no answer
      let delay = fault.kind === "latency" ? fault.ms : fault.kind === "slow" ? fault.latencyMs : 0;
      if (fault.kind === "bandwidth" || fault.kind === "slow") {
        // A leaky bucket: each chunk leaves when the bytes before it have drained at the rate.
        const now = Date.now();
        budgetAt = Math.max(budgetAt, now) + (chunk.length / fault.bytesPerSecond) * 1000;
        budget = budgetAt - now;
        delay += budget;
      }
      if (delay <= 0) {
        to.write(chunk);
        return;
      }
      from.pause();
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
        from.resume();
      }, delay);
    });
  }
}
