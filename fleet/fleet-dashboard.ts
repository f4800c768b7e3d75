import pino from "pino";
import type { FleetConfig } from "../config/fleet-schema.js";
import { DashboardRoutes } from "../agent/dashboard/dashboard-routes.js";
import { WebAssets } from "../agent/dashboard/web-assets.js";
import { HttpListener } from "../agent/http/listener.js";
import { agentVersion } from "../agent/version.js";
import { FleetBoard } from "./fleet-board.js";
import { gatewayId } from "./fleet-file.js";
import type { ToWorker } from "./protocol.js";

/** A worker as the dashboard reaches it: the gateways it runs, and its IPC channel. */
export interface DashboardWorker {
  /** Gateway indices [start, end). */
  readonly range: readonly [number, number];
  send(message: ToWorker): void;
}

/**
 * The fleet's dashboard: a FleetBoard of the shard's gateways, served on the fleet file's HTTP
 * listener (http.listen, http.tokenFile) with the same page and routes as a gateway's.
 */
export async function serveFleetDashboard(
  fleet: FleetConfig,
  range: readonly [number, number],
  workers: () => readonly DashboardWorker[],
): Promise<{ board: FleetBoard; http: HttpListener; url: string }> {
  const ids = Array.from({ length: range[1] - range[0] }, (_, i) => gatewayId(fleet, range[0] + i));
  const index = new Map(ids.map((id, i) => [id, range[0] + i]));
  const board = new FleetBoard(
    ids,
    Array.from({ length: fleet.containersPerGateway }, (_, j) => `C${j + 1}`),
    () =>
      workers().map((w) => ({
        holds: (id: string) => {
          const i = index.get(id);
          return i !== undefined && i >= w.range[0] && i < w.range[1];
        },
        send: (message: ToWorker) => {
          w.send(message);
        },
      })),
  );
  const logger = pino({ level: "warn" }, pino.destination(2));
  const http = new HttpListener(
    fleet.http,
    {
      dashboard: new DashboardRoutes(
        {
          info: () => ({ mode: "fleet", version: agentVersion() }),
          gateway: (id) => board.gateway(id),
          fleet: () => board.fleet(),
        },
        new WebAssets(),
        logger,
      ),
    },
    logger,
  );
  const address = await http.start();
  const host = address.address.includes(":") ? `[${address.address}]` : address.address;
  return { board, http, url: `http://${host}:${address.port}/` };
}
