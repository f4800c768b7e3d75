import { loadConfigFile } from "../config/load.js";
import { missingPortWarning } from "../drivers/modbus/validation.js";
import { readTokenFile } from "../agent/http/listener.js";
import { EXIT_OUTBOX_LOCKED, OutboxLock } from "../agent/outbox/outbox-lock.js";
import { loadTlsMaterial } from "../agent/publisher/tls.js";
import { configPath, EXIT_USAGE, reportStartupError } from "./command.js";

/** `validate`: every problem of a config and the files it names, or "ok"; warnings on stdout. */
export function run(args: string[]): number {
  const file = configPath(args);
  if (!file) {
    process.stderr.write("validate: name the config with --config FILE\n");
    return EXIT_USAGE;
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
    // Another agent holding the outbox (asked without creating a file).
    const held = config.buffer.path === ":memory:" ? null : OutboxLock.holder(config.buffer.path);
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
