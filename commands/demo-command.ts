import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { AgentConfig } from "../config/schema.js";
import { createLogger } from "../agent/logger.js";
import { EXIT_USAGE, reportStartupError, untilSignal } from "./command.js";
import { startEmbeddedBroker } from "./demo/broker.js";
import { demoConfig } from "./demo/demo-config.js";
import { startLiveView } from "./demo/live-view.js";
import { startAgent } from "./start-agent.js";

/**
 * `demo`: simulated reefers, an embedded broker, a live view in the terminal and the dashboard,
 * for --duration seconds or until a signal.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string" },
      interval: { type: "string" },
      data: { type: "string" },
      http: { type: "string" },
    },
  });
  const duration = values.duration === undefined ? undefined : Number(values.duration) * 1000;
  const interval = values.interval === undefined ? 1000 : Number(values.interval);
  if ((duration !== undefined && !(duration > 0)) || !(interval >= 100)) {
    process.stderr.write("demo: --duration takes seconds > 0, --interval milliseconds >= 100\n");
    return EXIT_USAGE;
  }
  const dataDir = values.data ?? mkdtempSync(join(tmpdir(), "reefer-edge-demo-"));
  const broker = await startEmbeddedBroker();
  let config: AgentConfig;
  let started: Awaited<ReturnType<typeof startAgent>>;
  try {
    // A bad --http is a config error, reported as one.
    config = demoConfig(broker.url, dataDir, interval, values.http);
    started = await startAgent(config, { logger: createLogger(config.log) });
  } catch (error) {
    await broker.close();
    return reportStartupError(error);
  }
  const { agent, address } = started;
  const dashboardUrl = address
    ? `http://${hostForUrl(address.address)}:${address.port}/`
    : undefined;
  process.stdout.write(
    `reefer-edge demo: ${config.containers.length} simulated reefers at 60× speed (C03's compressor ` +
      `fails after 10 model minutes, C04's CO2 sensor reads high), edge rules on 10 s windows, ` +
      `broker ${broker.url}, outbox ${config.buffer.path}\n` +
      (dashboardUrl ? `dashboard: ${dashboardUrl}\n` : ""),
  );
  const view = startLiveView(
    agent,
    (text) => process.stdout.write(text),
    process.stdout.isTTY,
    dashboardUrl,
  );
  await untilSignal(duration);
  view.stop();
  await agent.stop();
  await broker.close();
  const metrics = agent.metrics;
  process.stdout.write(
    `demo stopped: ${metrics.get("readings_captured")} readings captured, ` +
      `${metrics.total("published")} published, ${metrics.total("alerts")} alerts\n`,
  );
  if (values.data === undefined) rmSync(dataDir, { recursive: true, force: true });
  return 0;
}

/** An address as a URL's host: an IPv6 one in brackets. */
function hostForUrl(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}
