#!/usr/bin/env node
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfigFile } from "../config/load.js";
import { Agent } from "../agent/agent.js";
import { missingPortWarning } from "../drivers/modbus/validation.js";
import { ConfigReloader } from "../agent/config-reloader.js";
import { HttpListenerError, readTokenFile } from "../agent/http/listener.js";
import { createLogger } from "../agent/logger.js";
import { loadTlsMaterial, TlsFileError } from "../agent/publisher/tls.js";
import { capturedReportPath, reportCaptured } from "../agent/captured-report.js";
import { EXIT_OUTBOX_LOCKED, OutboxLock, OutboxLockedError } from "../agent/outbox/outbox-lock.js";

/** sysexits EX_CONFIG: systemd's RestartPreventExitStatus stops a restart loop on a bad config. */
export const EXIT_CONFIG = 78;

const USAGE = `reefer-edge: edge gateway agent for refrigerated containers

Usage:
  reefer-edge run --config FILE [--captured-report FILE]
                                       run the agent (SIGTERM/SIGINT stop it gracefully; SIGHUP
                                       or a changed file reloads the rules); --captured-report
                                       appends each durably captured reading to FILE, for a
                                       rig that checks the outbox from outside (power cuts)
  reefer-edge validate --config FILE   check a config; prints every problem, exits non-zero on any
  reefer-edge doctor --config FILE [--json]
                                       on site: config, certificates, clock, serial ports and a
                                       read of each device, outbox, disk, and the way to the
                                       broker; a verdict and a fix each; exits 0 when all pass
  reefer-edge demo [--duration S] [--interval MS] [--data DIR] [--http HOST:PORT]
                                       simulated reefers, an embedded broker, a live view in
                                       the terminal and a dashboard in the browser (its URL is
                                       printed; loopback and a free port unless --http)
  reefer-edge fleet --file FLEET.yaml [--shard I/K] [--duration S] [--broker URL]
                   [--http HOST:PORT] [--json]
                                       a simulated fleet of real agents (config/REFERENCE.md):
                                       ramp, chaos, drain, and a report of what was lost (exit 1
                                       if any); --http serves its dashboard (URL printed)
  reefer-edge outbox migrate (--path DB | --config FILE)
                                       brings an outbox's schema up to this version's (package
                                       upgrades run it between stopping the old agent and
                                       starting the new one)
  reefer-edge provision --config FILE --claim-cert C --claim-key K --template NAME --serial S
                                       fleet provisioning by claim: a key made here, a
                                       certificate from its CSR, the thing registered, written
                                       where the config names them; resumes after interruption
  reefer-edge cloud ...                the operator's commands through AWS IoT (config shadow,
                                       health, list, send): reefer-edge cloud help
  reefer-edge ports                    lists serial ports (RS-485 adapters) with the stable
                                       /dev/serial/by-id names to put in a Modbus driver's config
  reefer-edge help

The config file may also be named by REEFER_EDGE_CONFIG; REEFER_EDGE__<PATH> variables override
its values (REEFER_EDGE__MQTT__URL=mqtts://... sets mqtt.url).

Exit codes: 0 after a graceful stop, 2 usage error, 75 the outbox is in use by another agent,
78 a config or TLS file that cannot be used.`;

async function main(argv: string[]): Promise<number> {
  const [command = "help", ...rest] = argv;
  switch (command) {
    case "run":
      return run(rest);
    case "validate":
      return validate(rest);
    case "doctor":
      return doctor(rest);
    case "demo":
      return demo(rest);
    case "ports":
      return ports();
    case "fleet":
      return fleet(rest);
    case "outbox":
      return outbox(rest);
    case "cloud":
      return cloud(rest);
    case "provision":
      return provisionCommand(rest);
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE + "\n");
      return 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

/** Lists serial ports; modbus code is loaded only for this command. */
async function ports(): Promise<number> {
  const { listSerialPorts, formatPortListing } = await import("../drivers/modbus/ports.js");
  process.stdout.write(formatPortListing(await listSerialPorts()) + "\n");
  return 0;
}

/** The fleet simulator; its code is loaded only for this command. */
async function fleet(args: string[]): Promise<number> {
  const { runFleet } = await import("../fleet/fleet-command.js");
  try {
    return await runFleet(args, untilSignal());
  } catch (error) {
    return reportStartupError(error);
  }
}

/**
 * The operator's commands; their code (and the AWS SDK, an optional dependency a gateway's
 * package leaves out) is loaded only here.
 */
async function cloud(args: string[]): Promise<number> {
  let command: typeof import("./cloud/cloud-command.js");
  try {
    command = await import("./cloud/cloud-command.js");
  } catch (error) {
    process.stderr.write(
      `cloud: the AWS SDK clients are not installed here (a gateway's package leaves them out): npm install @aws-sdk/client-iot-data-plane @aws-sdk/client-iot\n${(error as Error).message}\n`,
    );
    return 1;
  }
  if (args[0] === undefined || args[0] === "help") {
    process.stdout.write(command.CLOUD_USAGE + "\n");
    return args[0] === "help" ? 0 : 2;
  }
  return command.cloudCommand(
    args,
    (text) => process.stdout.write(text),
    (text) => process.stderr.write(text),
  );
}

/** Fleet provisioning by claim; its code is loaded only for this command. */
async function provisionCommand(args: string[]): Promise<number> {
  const { runProvision } = await import("./provision/provision-command.js");
  try {
    return await runProvision(args);
  } catch (error) {
    return reportStartupError(error);
  }
}

/** Outbox maintenance; its code is loaded only for this command. */
async function outbox(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: { path: { type: "string" }, config: { type: "string", short: "c" } },
  });
  if (action !== "migrate" || (values.path === undefined) === (values.config === undefined)) {
    process.stderr.write("usage: reefer-edge outbox migrate (--path DB | --config FILE)\n");
    return 2;
  }
  try {
    const path = values.path ?? loadConfigFile(values.config ?? "", process.env).buffer.path;
    const { describeMigration, migrateOutbox, OutboxMigrationError } =
      await import("../agent/outbox/migrate-command.js");
    try {
      process.stdout.write(describeMigration(migrateOutbox(path)) + "\n");
      return 0;
    } catch (error) {
      if (!(error instanceof OutboxMigrationError)) throw error;
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
  } catch (error) {
    return reportStartupError(error);
  }
}

function configPath(args: string[]): string | undefined {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string", short: "c" } },
    strict: false,
  });
  const config = values.config;
  return (typeof config === "string" ? config : undefined) ?? process.env.REEFER_EDGE_CONFIG;
}

function validate(args: string[]): number {
  const file = configPath(args);
  if (!file) {
    process.stderr.write("validate: name the config with --config FILE\n");
    return 2;
  }
  try {
    const config = loadConfigFile(file, process.env);
    const tls = loadTlsMaterial(config.mqtt, Date.now());
    for (const warning of tls.warnings) process.stdout.write(`warning: ${warning}\n`);
    for (const container of config.containers) {
      const warning = missingPortWarning(container.driver);
      if (warning) process.stdout.write(`warning: ${container.id}: ${warning}\n`);
    }
    if (config.http.tokenFile !== undefined) readTokenFile(config.http.tokenFile);
    const held = outboxHolder(config.buffer.path);
    if (held) {
      // Usable, but `run` refuses while that agent lives; reloading its rules needs no second run.
      process.stdout.write(
        `warning: ${held.message}; \`run\` with this config exits ${EXIT_OUTBOX_LOCKED} while it runs\n`,
      );
    }
    process.stdout.write(
      `${file}: ok (${config.containers.length} containers, gateway ${config.gateway.id})\n`,
    );
    return 0;
  } catch (error) {
    return reportStartupError(error);
  }
}

/** Another agent holding the outbox, if one does (asked without creating a file). */
function outboxHolder(path: string): OutboxLockedError | null {
  return path === ":memory:" ? null : OutboxLock.holder(path);
}

async function doctor(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string", short: "c" }, json: { type: "boolean", default: false } },
  });
  const file = values.config ?? process.env.REEFER_EDGE_CONFIG;
  if (!file) {
    process.stderr.write("doctor: name the config with --config FILE\n");
    return 2;
  }
  // Loaded here: the checks' code is not the running agent's.
  const { formatReport, runDoctor } = await import("./doctor/doctor.js");
  const report = await runDoctor(file, { env: process.env, timeoutMs: 5000 });
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + "\n" : formatReport(report));
  return report.ok ? 0 : 1;
}

function reportStartupError(error: unknown): number {
  if (error instanceof ConfigError || error instanceof TlsFileError) {
    process.stderr.write(`${error.message}\n`);
    return EXIT_CONFIG;
  }
  if (error instanceof HttpListenerError) {
    process.stderr.write(`${error.message}\n`);
    return EXIT_CONFIG;
  }
  if (error instanceof OutboxLockedError) {
    process.stderr.write(`${error.message}\n`);
    return EXIT_OUTBOX_LOCKED;
  }
  throw error;
}

async function run(args: string[]): Promise<number> {
  const file = configPath(args);
  if (!file) {
    process.stderr.write("run: name the config with --config FILE (or REEFER_EDGE_CONFIG)\n");
    return 2;
  }
  let agent: Agent;
  let reloader: ConfigReloader;
  // Listening before the start: a SIGTERM during startup (systemd stopping a slow start) must
  // still stop the agent gracefully rather than kill it.
  const stopRequested = untilSignal();
  try {
    const config = loadConfigFile(file, process.env);
    const logger = createLogger(config.log);
    agent = new Agent(config, { logger });
    const report = capturedReportPath(args);
    if (report) reportCaptured(agent, report);
    agent.start();
    await agent.listen().catch(async (error: unknown) => {
      await agent.stop(0);
      throw error;
    });
    reloader = new ConfigReloader({
      file,
      env: process.env,
      initial: config,
      logger: logger.child({ component: "config" }),
      apply: (next) => agent.reloadRules(next),
    });
    reloader.start();
  } catch (error) {
    return reportStartupError(error);
  }
  await stopRequested;
  reloader.stop();
  await agent.stop();
  return 0;
}

async function demo(args: string[]): Promise<number> {
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
    return 2;
  }
  // Loaded here, not at the top: a gateway running `run` should not carry the demo broker.
  const [{ startEmbeddedBroker }, { demoConfig }, { startLiveView }] = await Promise.all([
    import("./demo/broker.js"),
    import("./demo/demo-config.js"),
    import("./demo/live-view.js"),
  ]);
  const dataDir = values.data ?? mkdtempSync(join(tmpdir(), "reefer-edge-demo-"));
  const broker = await startEmbeddedBroker();
  let config;
  let agent: Agent;
  let address: { address: string; port: number } | null;
  try {
    config = demoConfig(broker.url, dataDir, interval, values.http);
    agent = new Agent(config, { logger: createLogger(config.log) });
    agent.start();
    address = await agent.listen().catch(async (error: unknown) => {
      await agent.stop(0);
      throw error;
    });
  } catch (error) {
    await broker.close();
    return reportStartupError(error);
  }
  const tty = process.stdout.isTTY;
  const dashboardUrl = address
    ? `http://${hostForUrl(address.address)}:${address.port}/`
    : undefined;
  process.stdout.write(
    `reefer-edge demo: ${config.containers.length} simulated reefers at 60× speed (C03's compressor ` +
      `fails after 10 model minutes, C04's CO2 sensor reads high), edge rules on 10 s windows, ` +
      `broker ${broker.url}, outbox ${config.buffer.path}\n` +
      (dashboardUrl ? `dashboard: ${dashboardUrl}\n` : ""),
  );
  const view = startLiveView(agent, (text) => process.stdout.write(text), tty, dashboardUrl);
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

/** Resolves on SIGTERM or SIGINT (or after `ms`); a second signal exits at once. */
function untilSignal(ms?: number): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      process.off("SIGTERM", done);
      process.off("SIGINT", done);
      process.once("SIGTERM", () => process.exit(130));
      process.once("SIGINT", () => process.exit(130));
      resolve();
    };
    process.once("SIGTERM", done);
    process.once("SIGINT", done);
    if (ms !== undefined) timer = setTimeout(done, ms);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `reefer-edge: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
