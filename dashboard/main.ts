import { byId, h } from "./dom.js";
import { FleetView } from "./fleet-view.js";
import { GatewayView } from "./gateway-view.js";
import type { DashboardInfo } from "./wire.js";

interface View {
  destroy(): void;
}

/**
 * The page's router: #/fleet, #/gateway/<id>[/<container>], or the listener's own default (the
 * gateway it runs, or the fleet).
 */
async function start(): Promise<void> {
  const root = byId("view");
  const response = await fetch("/api/info");
  if (!response.ok) {
    root.replaceChildren(
      h(
        "p",
        { role: "alert" },
        `The gateway answered ${response.status}: ${await response.text()}`,
      ),
    );
    return;
  }
  const info = (await response.json()) as DashboardInfo;
  let view: View | null = null;
  const route = () => {
    view?.destroy();
    const [, kind, id, container] = location.hash
      .split("/")
      .map((part) => decodeURIComponent(part));
    if (kind === "gateway" && id) {
      byId("title").textContent = `gateway ${id}`;
      view = new GatewayView(root, id, { inFleet: info.mode === "fleet", container });
    } else if (info.mode === "fleet") {
      view = new FleetView(root);
    } else {
      byId("title").textContent = `gateway ${info.gateway}`;
      view = new GatewayView(root, info.gateway, { inFleet: false });
    }
    document.title = `reefer-edge · ${byId("title").textContent}`;
  };
  window.addEventListener("hashchange", route);
  route();
}

start().catch((error: unknown) => {
  byId("view").replaceChildren(
    h("p", { role: "alert" }, `The dashboard failed to start: ${String(error)}`),
  );
});
