import type { Agent } from "../agent.js";
import type { ReeferReading } from "../record.js";

export interface LiveView {
  stop(): void;
}

/** Readings above this are flagged in the view, as the seed's cloud rule does. */
const SEED_THRESHOLD_C = 18;

/**
 * A terminal view of the agent: each container's last reading, what was published and what waits
 * in the outbox. Redrawn in place on a TTY; one summary line every few seconds otherwise (CI
 * logs, `| tee`).
 */
export function startLiveView(agent: Agent, write: (text: string) => void, tty: boolean): LiveView {
  const last = new Map<string, ReeferReading>();
  let published = 0;
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
  agent.events.on("captured", onCaptured);
  agent.events.on("published", onPublished);
  agent.events.on("connection", onConnection);

  const render = () => {
    const status = agent.status();
    const lines = [
      `reefer-edge demo   broker: ${connection}   published: ${published}   ` +
        `buffered: ${status.outbox.telemetry}   in flight: ${status.inflight}   ` +
        `alerts queued: ${status.outbox.alerts}   dead letters: ${status.outbox.deadLettered}`,
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
            " " + describe(r),
          ].join("  "),
        );
      }
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
    },
  };
}

function fmt(value: number | null): string {
  return value === null ? "—" : value.toFixed(1);
}

function describe(r: ReeferReading): string {
  const problems: string[] = [];
  if (r.temperature !== null && r.temperature > SEED_THRESHOLD_C)
    problems.push(`TEMP > ${SEED_THRESHOLD_C}`);
  if (r.kilowatts === 0) problems.push("POWER OFF");
  if (r.oxygen_level !== null && r.oxygen_level < 12) problems.push("O2 LOW");
  if (r.carbon_dioxide_level !== null && r.carbon_dioxide_level > 12) problems.push("CO2 HIGH");
  if (r.fan_1 === false || r.fan_2 === false || r.fan_3 === false) {
    if (!r.defrost_cycle && r.kilowatts !== 0) problems.push("FAN");
  }
  return problems.length === 0 ? "ok" : problems.join(", ");
}
