import { parseArgs } from "node:util";
import { ConfigError } from "../config/load.js";
import { HttpListenerError } from "../agent/http/listener.js";
import { EXIT_OUTBOX_LOCKED, OutboxLockedError } from "../agent/outbox/outbox-lock.js";
import { OutboxTooNewError } from "../agent/outbox/database.js";
import { ReleaseKeyError } from "../agent/update/job-document.js";
import { TlsFileError } from "../agent/publisher/tls.js";

/** sysexits EX_CONFIG: systemd's RestartPreventExitStatus stops a restart loop on a bad config. */
export const EXIT_CONFIG = 78;
/** A usage error: a missing or malformed argument. */
export const EXIT_USAGE = 2;

/**
 * One command of the CLI: its lines of the usage text, and its code, loaded only when the
 * command runs (a gateway running `run` never loads the demo broker, the fleet or the AWS SDK).
 */
export interface Command {
  readonly name: string;
  /** Its lines of `reefer-edge help`: the synopsis, then what it does. */
  readonly usage: string;
  load(): Promise<{ run(args: string[]): Promise<number> | number }>;
}

/** The config file named by --config (or -c), else by REEFER_EDGE_CONFIG. */
export function configPath(args: string[]): string | undefined {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string", short: "c" } },
    strict: false,
  });
  const config = values.config;
  return (typeof config === "string" ? config : undefined) ?? process.env.REEFER_EDGE_CONFIG;
}

/**
 * The exit code of a start that could not happen, with its message on stderr: a config, TLS,
 * listener or release-key file that cannot be used, or an outbox a newer version migrated beyond
 * this one's reach (78: systemd does not restart it), an outbox another agent holds (75). Anything else is a
 * bug, thrown on to the top.
 */
export function reportStartupError(error: unknown): number {
  if (
    error instanceof ConfigError ||
    error instanceof TlsFileError ||
    error instanceof HttpListenerError ||
    error instanceof ReleaseKeyError ||
    error instanceof OutboxTooNewError
  ) {
    process.stderr.write(`${error.message}\n`);
    return EXIT_CONFIG;
  }
  if (error instanceof OutboxLockedError) {
    process.stderr.write(`${error.message}\n`);
    return EXIT_OUTBOX_LOCKED;
  }
  throw error;
}

/** Resolves on SIGTERM or SIGINT (or after `ms`); a second signal exits at once. */
export function untilSignal(ms?: number): Promise<void> {
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
