import type { GatewayStatus } from "../../core/gateway-status.js";
import type { ReeferReading } from "../../core/record.js";
import type { AlertRecord } from "../../core/alerts.js";
import { describeAlert, OpenAlerts } from "../../agent/dashboard/open-alerts.js";

export interface LiveView {
  stop(): void;
}

/**
 * A terminal view of the agent: each container's last reading, what was published and what waits
 * in the outbox. Redrawn in place on a TTY; one summary line every few seconds otherwise (CI
 * logs, `| tee`).
 */
export function startLiveView(
  agent: GatewayStatus,
  write: (text: string) => void,
  tty: boolean,
  dashboardUrl?: string,
): LiveView {
  const last = new Map<string, ReeferReading>();
  const raised = new OpenAlerts();
  const recent: string[] = [];
  let published = 0;
  let alertsRaised = 0;
  let connection = "connecting";
  const onCaptured = (readings: readonly ReeferReading[]) => {
    for (const r of readings) last.set(r.container_id, r);
  };
  const onPublished = (n: number) => {
    published += n;
  };
  const onConnection = (state: string) => {
    connection = state;
  };
  const onAlert = (alerts: readonly AlertRecord[]) => {
    for (const alert of alerts) {
      if (alert.state !== "cleared") alertsRaised++;
      raised.apply(alert);
      recent.unshift(describeAlert(alert));
      recent.length = Math.min(recent.length, 5);
    }
  };
  agent.events.on("captured", onCaptured);
  agent.events.on("published", onPublished);
  agent.events.on("connection", onConnection);
  agent.events.on("alert", onAlert);

  /** Published counts of the last renders, for the drain rate. */
  const history: { at: number; published: number }[] = [];
  const render = () => {
    const status = agent.status();
    const now = Date.now();
    history.push({ at: now, published });
    while (history.length > 10) history.shift();
    const oldest = history[0];
    const rate =
      oldest && now > oldest.at ? ((published - oldest.published) * 1000) / (now - oldest.at) : 0;
    const backlog = status.outbox.telemetry;
    // A drain after an outage: how fast it goes and when it will be done.
    const drain =
      connection === "connected" && backlog > 100 && rate > 0
        ? `   draining: ${Math.round(rate)}/s, done in ~${Math.ceil(backlog / rate)} s`
        : "";
    const lines = [
      `reefer-edge demo   broker: ${connection}   published: ${published}   ` +
        `buffered: ${backlog}   in flight: ${status.inflight}   ` +
        `alerts: ${alertsRaised} (${status.outbox.alerts} queued)   dead letters: ${status.outbox.deadLettered}${drain}`,
    ];
    if (tty) {
      lines.push(
        "",
        "container  product  seq     temp °C  set °C  kW     O2 %   CO2 %  fans  door s  defrost  state",
      );
      for (const r of [...last.values()].sort((a, b) =>
        a.container_id.localeCompare(b.container_id),
      )) {
        lines.push(
          [
            r.container_id.padEnd(9),
            r.product_id.padEnd(7),
            String(r.seq).padEnd(6),
            fmt(r.temperature).padStart(8),
            fmt(r.target_temperature).padStart(6),
            fmt(r.kilowatts).padStart(5),
            fmt(r.oxygen_level).padStart(6),
            fmt(r.carbon_dioxide_level).padStart(6),
            [r.fan_1, r.fan_2, r.fan_3]
              .map((f) => (f ? "+" : "-"))
              .join("")
              .padStart(4),
            fmt(r.time_door_open).padStart(6),
            (r.defrost_cycle ? "yes" : "no").padStart(7),
            " " + state(raised.of(r.container_id)),
          ].join("  "),
        );
      }
      lines.push(
        "",
        "Latest alerts (edge rules, published on dt/reefer/<gateway>/<container>/alert):",
      );
      lines.push(...(recent.length === 0 ? ["  none yet"] : recent.map((a) => `  ${a}`)));
      if (dashboardUrl) lines.push("", `Dashboard: ${dashboardUrl}`);
      lines.push("", "Ctrl-C stops the demo gracefully.");
      write("\x1b[H\x1b[2J" + lines.join("\n") + "\n");
    } else {
      write(`${lines[0] ?? ""}\n`);
    }
  };
  const timer = setInterval(render, tty ? 1000 : 5000);
  return {
    stop: () => {
      clearInterval(timer);
      render();
      agent.events.off("captured", onCaptured);
      agent.events.off("published", onPublished);
      agent.events.off("connection", onConnection);
      agent.events.off("alert", onAlert);
    },
  };
}

function fmt(value: number | null): string {
  return value === null ? "—" : value.toFixed(1);
}

function state(open: readonly AlertRecord[]): string {
  if (open.length === 0) return "ok";
  return open.map((a) => a.alert_type.toUpperCase()).join(", ");
}
