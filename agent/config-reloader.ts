import { statSync } from "node:fs";
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
 * The file is polled rather than watched with inotify: editors and config management replace
 * the file by renaming, which an inotify watch on the old inode misses. Not with fs.watchFile:
 * its first stat is asynchronous, so a change made just after start became its baseline and was
 * never seen (a test caught it under load). The baseline here is taken synchronously at start.
 */
export class ConfigReloader {
  private current: AgentConfig;
  private readonly onSignal = () => this.reload("SIGHUP");
  private timer: NodeJS.Timeout | null = null;
  /** The file as last seen: mtime, inode and size (a rename-replace changes the inode). */
  private seen: string | null = null;

  constructor(private readonly options: ConfigReloaderOptions) {
    this.current = options.initial;
  }

  start(): void {
    process.on("SIGHUP", this.onSignal);
    this.seen = this.fingerprint();
    this.timer = setInterval(() => {
      const now = this.fingerprint();
      // Missing for a moment (mid-replace): wait until it is back rather than refuse it.
      if (now === null || now === this.seen) return;
      this.seen = now;
      this.reload("file changed");
    }, this.options.pollMs ?? 2000);
    this.timer.unref();
  }

  stop(): void {
    process.off("SIGHUP", this.onSignal);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private fingerprint(): string | null {
    try {
      const stats = statSync(this.options.file);
      return `${stats.mtimeMs}:${stats.ino}:${stats.size}`;
    } catch {
      return null;
    }
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
