import { loadConfigFile } from "../config/load.js";
import { ConfigReloader } from "../agent/config-reloader.js";
import { capturedReportPath } from "../agent/captured-report.js";
import { createLogger } from "../agent/logger.js";
import { configPath, EXIT_USAGE, reportStartupError, untilSignal } from "./command.js";
import { startAgent } from "./start-agent.js";

/** `run`: the agent, until SIGTERM or SIGINT; SIGHUP or a changed file reloads its rules. */
export async function run(args: string[]): Promise<number> {
  const file = configPath(args);
  if (!file) {
    process.stderr.write("run: name the config with --config FILE (or REEFER_EDGE_CONFIG)\n");
    return EXIT_USAGE;
  }
  // Listening before the start: a SIGTERM during startup (systemd stopping a slow start) must
  // still stop the agent gracefully rather than kill it.
  const stopRequested = untilSignal();
  let started: Awaited<ReturnType<typeof startAgent>>;
  let reloader: ConfigReloader;
  try {
    const config = loadConfigFile(file, process.env);
    const logger = createLogger(config.log);
    started = await startAgent(config, { logger, capturedReport: capturedReportPath(args) });
    const { agent } = started;
    reloader = new ConfigReloader({
      file,
      env: process.env,
      initial: config,
      logger: logger.child({ component: "config" }),
      apply: (next) => {
        agent.reloadRules(next);
      },
    });
    reloader.start();
  } catch (error) {
    return reportStartupError(error);
  }
  await stopRequested;
  reloader.stop();
  await started.agent.stop();
  return 0;
}
