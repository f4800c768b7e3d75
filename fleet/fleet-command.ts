import { parseArgs } from "node:util";
import { FleetCoordinator } from "./coordinator.js";
import { loadFleetFile, parseFleet, parseShard } from "./fleet-file.js";
import { formatReport, saveReport } from "./report.js";

/**
 * `reefer-edge fleet`: its arguments, the run, and the exit code (0: every reading delivered and
 * drained, 1: not, 2: usage). A fleet file or listener that cannot be used is thrown for the
 * CLI's own exit code.
 */
export async function runFleet(args: string[], interrupted: Promise<void>): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      file: { type: "string", short: "f" },
      shard: { type: "string" },
      duration: { type: "string" },
      broker: { type: "string" },
      http: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const shard = parseShard(values.shard);
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (!values.file || !shard || (duration !== undefined && !(duration > 0))) {
    process.stderr.write(
      "usage: reefer-edge fleet --file FLEET.yaml [--shard I/K] [--duration SECONDS] [--broker URL] [--http HOST:PORT] [--json]\n",
    );
    return 2;
  }
  let config = loadFleetFile(values.file);
  if (duration !== undefined) config = { ...config, durationSeconds: duration };
  // A broker URL known only at start (a container's port): overrides agent.mqtt.url.
  if (values.broker !== undefined) {
    const mqtt = {
      ...config.agent.mqtt,
      url: values.broker,
    };
    config = parseFleet({ ...config, agent: { ...config.agent, mqtt } }, "--broker", "/");
  }
  if (values.http !== undefined) {
    config = parseFleet(
      { ...config, http: { ...config.http, listen: values.http } },
      "--http",
      "/",
    );
  }
  const tty = process.stdout.isTTY;
  const coordinator = new FleetCoordinator(config, {
    shard,
    tty,
    output: (text) => process.stderr.write(text),
    interrupted,
  });
  const report = await coordinator.run();
  const file = saveReport(config, report);
  process.stdout.write(
    values.json ? JSON.stringify(report) + "\n" : `${formatReport(report)}\nreport: ${file}\n`,
  );
  return report.lost === 0 && report.backlogLeft === 0 && report.gateways === coordinator.total
    ? 0
    : 1;
}
