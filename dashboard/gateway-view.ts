import { ContainerCharts } from "./chart.js";
import { h } from "./dom.js";
import { formatBytes, formatDuration, formatNumber, formatTime } from "./format.js";
import { openStream } from "./live-stream.js";
import { HISTORY_COLUMNS } from "./wire.js";
import type {
  AlertWire,
  ContainerWire,
  GatewaySnapshotWire,
  GatewayStatusWire,
  HistoryColumnsWire,
  ReadingWire,
} from "./wire.js";

const COLUMNS = HISTORY_COLUMNS;
const HOUR_MS = 3_600_000;

/**
 * One gateway: its containers as cards (state in words and a symbol), the selected container's
 * last hour as charts, the outbox, the broker connection, the clock and the Modbus devices, all
 * kept live from the gateway's event stream.
 */
export class GatewayView {
  private containers: ContainerWire[] = [];
  private readonly history = new Map<string, HistoryColumnsWire>();
  private readonly open = new Map<string, AlertWire[]>();
  private readonly clocks = new Map<string, string>();
  private recent: AlertWire[] = [];
  private selected: string | null;
  private charts: ContainerCharts | null = null;
  private chartPending = false;
  private readonly closeStream: () => void;
  private readonly cards = h("ul", { class: "cards", "aria-label": "Containers" });
  private readonly status = h("dl", { class: "status" });
  private readonly detail = h("section", { class: "detail", "aria-labelledby": "detail-title" });
  private readonly devices = h("div", { class: "devices" });
  private readonly recentList = h("ol", { class: "alerts", "aria-label": "Latest alerts" });

  constructor(
    root: HTMLElement,
    gateway: string,
    options: { readonly inFleet: boolean; readonly container?: string },
  ) {
    this.selected = options.container ?? null;
    root.replaceChildren(
      h(
        "section",
        { class: "gateway", "aria-labelledby": "gateway-title" },
        options.inFleet ? h("a", { href: "#/fleet", class: "back" }, "← Fleet") : null,
        h("h1", { id: "gateway-title" }, `Gateway ${gateway}`),
        h("section", { "aria-label": "Gateway status" }, this.status),
        this.cards,
        this.detail,
        h(
          "section",
          { "aria-labelledby": "devices-title" },
          h("h2", { id: "devices-title" }, "Modbus devices"),
          this.devices,
        ),
        h(
          "section",
          { "aria-labelledby": "recent-title" },
          h("h2", { id: "recent-title" }, "Latest alerts"),
          this.recentList,
        ),
      ),
    );
    this.closeStream = openStream(`/api/gateways/${encodeURIComponent(gateway)}/events`, {
      snapshot: (data) => this.onSnapshot(data as GatewaySnapshotWire),
      readings: (data) => this.onReadings(data as ReadingWire[]),
      alerts: (data) => this.onAlerts(data as AlertWire[]),
      status: (data) => this.renderStatus(data as GatewayStatusWire),
    });
  }

  destroy(): void {
    this.closeStream();
    this.charts?.destroy();
    this.charts = null;
  }

  private onSnapshot(snapshot: GatewaySnapshotWire): void {
    this.containers = [...snapshot.containers];
    this.history.clear();
    for (const container of this.containers) {
      const columns = snapshot.history[container.id];
      this.history.set(container.id, columns ? cloneColumns(columns) : emptyColumns());
      this.open.set(container.id, [...(snapshot.open[container.id] ?? [])]);
    }
    this.recent = [...snapshot.recent];
    if (this.selected === null || !this.history.has(this.selected))
      this.selected = this.containers[0]?.id ?? null;
    this.renderCards();
    this.renderDetail();
    this.renderRecent();
    this.renderStatus(snapshot.status);
  }

  private onReadings(readings: readonly ReadingWire[]): void {
    for (const reading of readings) {
      const columns = this.history.get(reading.container);
      if (!columns) continue;
      COLUMNS.forEach((name, i) => columns[name].push(reading.point[i] ?? null));
      this.clocks.set(reading.container, reading.clock);
      trimColumns(columns, (reading.point[0] ?? 0) - HOUR_MS);
      this.renderCard(reading.container);
    }
    this.scheduleChart();
  }

  private onAlerts(alerts: readonly AlertWire[]): void {
    for (const alert of alerts) {
      const open = (this.open.get(alert.container) ?? []).filter(
        (a) => !(alert.state !== "closed" && a.key === alert.key),
      );
      if (alert.state === "raised") open.push(alert);
      this.open.set(alert.container, open);
      this.recent.unshift(alert);
      this.renderCard(alert.container);
    }
    this.recent.length = Math.min(this.recent.length, 50);
    this.renderRecent();
    this.renderDetailAlerts();
    this.scheduleChart();
  }

  private renderCards(): void {
    this.cards.replaceChildren(
      ...this.containers.map((c) => {
        const button = h("button", { type: "button", class: "card", "data-container": c.id });
        button.addEventListener("click", () => this.select(c.id));
        return h("li", {}, button);
      }),
    );
    for (const c of this.containers) this.renderCard(c.id);
  }

  private renderCard(id: string): void {
    const container = this.containers.find((c) => c.id === id);
    const button = this.cards.querySelector<HTMLButtonElement>(
      `button[data-container="${CSS.escape(id)}"]`,
    );
    if (!container || !button) return;
    const columns = this.history.get(id);
    const temperature = columns ? last(columns.temperature) : null;
    const open = this.open.get(id) ?? [];
    const recentWindow = this.recent.find(
      (a) =>
        a.container === id && a.type === "temperature_window" && Date.now() - a.at < 5 * 60_000,
    );
    const alarming = open.length > 0 || recentWindow !== undefined;
    const state = alarming ? "alarm" : columns && columns.t.length > 0 ? "ok" : "waiting";
    const words = alarming
      ? [...new Set([...open.map((a) => a.type), ...(recentWindow ? ["temperature_window"] : [])])]
          .map((t) => t.replace(/_/g, " "))
          .join(", ")
      : state === "ok"
        ? "normal"
        : "no reading yet";
    button.dataset.state = state;
    button.dataset.temperature = temperature === null ? "" : String(temperature);
    button.setAttribute("aria-pressed", String(this.selected === id));
    button.replaceChildren(
      ...present(
        h("span", { class: "card-id" }, id),
        h("span", { class: "card-product" }, `${container.productName} (${container.product})`),
        h("span", { class: "card-temp" }, `${formatNumber(temperature)} °C`),
        h(
          "span",
          { class: "card-set" },
          `set ${formatNumber(container.setpoint)} °C · limit ${formatNumber(container.limit)} °C`,
        ),
        h(
          "span",
          { class: `badge badge-${state}` },
          h(
            "span",
            { "aria-hidden": "true" },
            state === "alarm" ? "▲ " : state === "ok" ? "● " : "○ ",
          ),
          state === "alarm" ? `Alarm: ${words}` : words,
        ),
        this.clocks.get(id) === "unsynced"
          ? h("span", { class: "badge badge-clock" }, "◆ clock not synced")
          : null,
      ),
    );
  }

  private select(id: string): void {
    this.selected = id;
    for (const button of this.cards.querySelectorAll<HTMLButtonElement>("button.card"))
      button.setAttribute("aria-pressed", String(button.dataset.container === id));
    this.renderDetail();
  }

  private renderDetail(): void {
    this.charts?.destroy();
    this.charts = null;
    const container = this.containers.find((c) => c.id === this.selected);
    if (!container) {
      this.detail.replaceChildren(h("p", {}, "No containers."));
      return;
    }
    const host = h("div", { class: "charts", "data-container": container.id });
    this.detail.replaceChildren(
      h("h2", { id: "detail-title" }, `${container.id} · ${container.productName} · last hour`),
      h(
        "p",
        { class: "note" },
        h("span", { class: "swatch swatch-door", "aria-hidden": "true" }),
        " door open   ",
        h("span", { class: "swatch swatch-defrost", "aria-hidden": "true" }),
        " defrost   ▲ alert raised   ● alert cleared",
      ),
      host,
      h("h3", {}, "Alerts"),
      h("ul", { class: "alerts", id: "detail-alerts" }),
    );
    this.charts = new ContainerCharts(host);
    this.renderDetailAlerts();
    this.drawChart();
  }

  private renderDetailAlerts(): void {
    const list = this.detail.querySelector("#detail-alerts");
    if (!list) return;
    const mine = this.recent.filter((a) => a.container === this.selected);
    list.replaceChildren(
      ...(mine.length === 0
        ? [h("li", {}, "None in this session.")]
        : mine.map((a) => alertItem(a))),
    );
  }

  private scheduleChart(): void {
    if (this.chartPending) return;
    this.chartPending = true;
    requestAnimationFrame(() => {
      this.chartPending = false;
      this.drawChart();
    });
  }

  private drawChart(): void {
    const container = this.containers.find((c) => c.id === this.selected);
    const columns = container ? this.history.get(container.id) : undefined;
    if (!container || !columns || !this.charts) return;
    this.charts.update({
      columns,
      limit: container.limit,
      alerts: this.recent.filter((a) => a.container === container.id),
    });
    const host = this.detail.querySelector<HTMLElement>(".charts");
    if (host) {
      const temperatures = columns.temperature.filter((t): t is number => t !== null);
      host.dataset.points = String(columns.t.length);
      host.dataset.firstAt = String(columns.t[0] ?? "");
      host.dataset.firstTemperature = String(temperatures[0] ?? "");
      host.dataset.maxTemperature = temperatures.length ? String(Math.max(...temperatures)) : "";
      host.setAttribute(
        "aria-label",
        `${container.id}: ${columns.t.length} readings in the last hour, now ${formatNumber(last(columns.temperature))} °C`,
      );
    }
  }

  private renderRecent(): void {
    this.recentList.replaceChildren(
      ...(this.recent.length === 0
        ? [h("li", {}, "None yet.")]
        : this.recent.slice(0, 20).map((a) => alertItem(a))),
    );
  }

  private renderStatus(status: GatewayStatusWire): void {
    const o = status.outbox;
    const draining =
      o.etaSeconds !== null
        ? `draining ${formatNumber(o.drainPerSecond)}/s, done in ${formatDuration(o.etaSeconds)}`
        : status.connection === "connected"
          ? "keeping up"
          : "buffering while offline";
    const item = (label: string, value: string, state?: string) =>
      h(
        "div",
        { class: "status-item", "data-state": state },
        h("dt", {}, label),
        h("dd", {}, value),
      );
    this.status.replaceChildren(
      item(
        "Broker",
        `${status.connection === "connected" ? "● connected" : `○ ${status.connection}`} · ${status.broker}`,
        status.connection === "connected" ? "ok" : "warn",
      ),
      item(
        "Outbox",
        `${o.depth} waiting (${formatBytes(o.bytes)}) · oldest ${formatDuration(o.oldestAgeMs === null ? null : o.oldestAgeMs / 1000)} · ${draining}` +
          (o.evicted > 0 ? ` · ${o.evicted} evicted` : "") +
          (o.deadLettered > 0 ? ` · ${o.deadLettered} dead letters` : ""),
        o.evicted > 0 || o.deadLettered > 0 ? "warn" : o.depth > 100 ? "busy" : "ok",
      ),
      item(
        "Clock",
        status.clock === "synced"
          ? "● synced"
          : status.clock === "unsynced"
            ? "◆ not synced: times will be corrected"
            : "— no reading yet",
        status.clock === "unsynced" ? "warn" : "ok",
      ),
      item("Up", `${formatDuration(status.uptimeSeconds)} · ${formatTime(status.at)}`),
    );
    this.status.dataset.connection = status.connection;
    this.status.dataset.depth = String(o.depth);
    const rows = status.devices.map((d) =>
      h(
        "tr",
        {},
        h("td", {}, d.device),
        h("td", {}, String(d.requests)),
        h("td", {}, String(d.errors)),
      ),
    );
    const readErrors = Object.entries(status.readErrors);
    this.devices.replaceChildren(
      ...present(
        rows.length === 0
          ? h("p", {}, "No Modbus devices on this gateway (simulated or not yet polled).")
          : h(
              "table",
              {},
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  h("th", { scope: "col" }, "Device"),
                  h("th", { scope: "col" }, "Requests"),
                  h("th", { scope: "col" }, "Errors"),
                ),
              ),
              h("tbody", {}, ...rows),
            ),
        readErrors.length === 0
          ? null
          : h("p", {}, `Failed reads: ${readErrors.map(([c, n]) => `${c} ${n}`).join(", ")}`),
      ),
    );
  }
}

function alertItem(alert: AlertWire): HTMLElement {
  const symbol = alert.state === "cleared" ? "● " : "▲ ";
  return h(
    "li",
    {
      "data-type": alert.type,
      "data-state": alert.state,
      "data-container": alert.container,
      "data-at": alert.at,
      class: `alert alert-${alert.severity}`,
    },
    h("span", { "aria-hidden": "true" }, symbol),
    `${alert.severity}: ${alert.text}`,
  );
}

function present<T>(...items: (T | null)[]): T[] {
  return items.filter((item): item is T => item !== null);
}

function last(values: readonly (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

function emptyColumns(): HistoryColumnsWire {
  return Object.fromEntries(COLUMNS.map((c) => [c, []])) as unknown as HistoryColumnsWire;
}

function cloneColumns(columns: HistoryColumnsWire): HistoryColumnsWire {
  return Object.fromEntries(
    COLUMNS.map((c) => [c, [...columns[c]]]),
  ) as unknown as HistoryColumnsWire;
}

/** Drops the points older than `since` (ms). */
function trimColumns(columns: HistoryColumnsWire, since: number): void {
  let drop = 0;
  while (drop < columns.t.length && (columns.t[drop] ?? 0) < since) drop++;
  if (drop > 0) for (const c of COLUMNS) columns[c].splice(0, drop);
}
