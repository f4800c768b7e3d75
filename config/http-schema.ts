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
        "Where the HTTP listener serves /metrics (Prometheus text format) and /healthz: host:port. Off when absent. A non-loopback address needs http.tokenFile.",
      ),
    tokenFile: z
      .string()
      .optional()
      .describe(
        "A file holding the bearer token every request must carry (Authorization: Bearer ...); required off loopback. Mode 600, like the private key.",
      ),
  })
  .prefault({})
  .describe("The gateway's HTTP listener: metrics and health for a technician or Prometheus.");

export type HttpConfig = z.output<typeof httpSchema>;

/** The host and port of `listen` (brackets removed from an IPv6 host). */
export function listenAddress(listen: string): { host: string; port: number } {
  const match = LISTEN.exec(listen);
  if (!match) throw new Error(`http.listen: ${listen}: expected host:port`);
  return { host: (match[1] ?? "").replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}
