import { unwatchFile, watchFile, type Stats } from "node:fs";
import type { Logger } from "pino";
import { loadConfigFile } from "../config/load.js";
import type { AgentConfig } from "../config/schema.js";

/** The parts of a config that a reload applies; everything else needs a restart. */
function withoutRules(config: AgentConfig): unknown {
  return {
    ...config,
    rules: undefined,
    containers: config.containers.map((c) => ({ ...c, reportByException: undefined })),
  };
}

export interface ConfigReloaderOptions {
  readonly file: string;
  readonly env: NodeJS.ProcessEnv;
  readonly initial: AgentConfig;
  readonly logger: Logger;
  readonly apply: (config: AgentConfig) => void;
  /** How often the file's mtime is checked, ms. */
  readonly pollMs?: number;
}

/**
 * Re-reads the config on SIGHUP or when the file changes, and applies its rules (thresholds,
 * windows, hysteresis, suppression, report by exception) to the running agent. An invalid file
 * is refused with its problems logged, and the running rules stay. Changes elsewhere (broker,
 * containers, buffer) are named in a warning: they take a restart.
 *
 * The file is polled (fs.watchFile) rather than watched with inotify: editors and config
 * management replace the file by renaming, which an inotify watch on the old inode misses.
 */
export class ConfigReloader {
  private current: AgentConfig;
  private readonly onSignal = () => this.reload("SIGHUP");
  private readonly onChange = (now: Stats, before: Stats) => {
    if (now.mtimeMs !== before.mtimeMs) this.reload("file changed");
  };

  constructor(private readonly options: ConfigReloaderOptions) {
    this.current = options.initial;
  }

  start(): void {
    process.on("SIGHUP", this.onSignal);
    watchFile(
      this.options.file,
      { interval: this.options.pollMs ?? 2000, persistent: false },
      this.onChange,
    );
  }

  stop(): void {
    process.off("SIGHUP", this.onSignal);
    unwatchFile(this.options.file, this.onChange);
  }

  reload(reason: string): void {
    const { file, env, logger } = this.options;
    let next: AgentConfig;
    try {
      next = loadConfigFile(file, env);
    } catch (error) {
      logger.error(
        { reason, err: error },
        `config reload refused, the running rules stay: ${(error as Error).message}`,
      );
      return;
    }
    if (JSON.stringify(withoutRules(next)) !== JSON.stringify(withoutRules(this.current))) {
      logger.warn(
        { reason },
        "config changes outside the rules take a restart; only the rules were applied",
      );
    }
    this.options.apply(next);
    this.current = next;
    logger.info({ reason }, "config reloaded");
  }
}
