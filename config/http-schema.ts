import { z } from "zod";

/** host:port, with an IPv6 host in brackets. */
const LISTEN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

export const httpSchema = z
  .strictObject({
    listen: z
      .string()
      .regex(LISTEN, "expected host:port, such as 127.0.0.1:9464 or [::1]:9464")
      .optional()
      .describe(
        "Where the HTTP listener serves /metrics (Prometheus text format), /healthz and the dashboard: host:port (port 0: a free port, logged). Off when absent. A non-loopback address needs http.tokenFile.",
      ),
    tokenFile: z
      .string()
      .optional()
      .describe(
        "A file holding the bearer token every request must carry (Authorization: Bearer ...); required off loopback. Mode 600, like the private key.",
      ),
    dashboard: z
      .boolean()
      .default(true)
      .describe(
        "Serve the dashboard at / : each container's last hour, its alerts, the outbox, the broker connection, the clock and the Modbus devices, updated live. It loads nothing from outside the gateway.",
      ),
  })
  .prefault({})
  .describe(
    "The gateway's HTTP listener: metrics, health and a live dashboard for a technician or Prometheus.",
  );

export type HttpConfig = z.output<typeof httpSchema>;

/** The host and port of `listen` (brackets removed from an IPv6 host). */
export function listenAddress(listen: string): { host: string; port: number } {
  const match = LISTEN.exec(listen);
  if (!match) throw new Error(`http.listen: ${listen}: expected host:port`);
  return { host: (match[1] ?? "").replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The listener's checks across fields: a port in range, and a token off loopback. */
export function checkHttp(http: HttpConfig, ctx: z.RefinementCtx): void {
  if (http.listen === undefined) return;
  const { host, port } = listenAddress(http.listen);
  if (port > 65_535) {
    ctx.addIssue({ code: "custom", path: ["http", "listen"], message: "port must be 0-65535" });
  }
  if (!isLoopbackHost(host) && http.tokenFile === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["http", "tokenFile"],
      message: `listening on ${host}, which is not loopback, needs a bearer token: set http.tokenFile`,
    });
  }
}
