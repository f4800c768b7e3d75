import type { Logger } from "pino";
import type { AgentConfig } from "../../config/schema.js";
import type { GatewayStatus } from "../../core/gateway-status.js";
import { DashboardRoutes } from "../dashboard/dashboard-routes.js";
import { GatewayFeed } from "../dashboard/gateway-feed.js";
import { WebAssets } from "../dashboard/web-assets.js";
import { HttpListener } from "./listener.js";

/**
 * A gateway's HTTP listener: /metrics and /healthz, and the dashboard with this gateway's live
 * feed unless `http.dashboard` is off. Not started: the caller starts it and owns both.
 */
export function agentListener(
  agent: GatewayStatus,
  config: AgentConfig,
  logger: Logger,
): { http: HttpListener; feed: GatewayFeed | null } {
  let feed: GatewayFeed | null = null;
  let dashboard: DashboardRoutes | undefined;
  if (config.http.dashboard) {
    const gatewayFeed = new GatewayFeed(agent);
    feed = gatewayFeed;
    const id = config.gateway.id;
    dashboard = new DashboardRoutes(
      {
        info: () => ({ mode: "gateway", gateway: id, version: agent.version }),
        gateway: (wanted) => (wanted === id ? gatewayFeed : null),
        fleet: () => null,
      },
      new WebAssets(),
      logger,
    );
  }
  const http = new HttpListener(
    config.http,
    { metrics: () => agent.metricsText(), health: () => agent.health(), dashboard },
    logger,
  );
  return { http, feed };
}
