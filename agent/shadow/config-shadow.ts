import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Logger } from "pino";
import type { AgentConfig } from "../../config/schema.js";
import type { Clock } from "../../core/clock.js";
import type { Metrics } from "../../core/metrics.js";
import type { SessionLink } from "../publisher/broker-client.js";
import { checkRemote, isObject, type RemoteProblem } from "./remote-settings.js";
import { shadowTopic } from "./shadow-topics.js";

/** A shadow document is at most 8 KB in AWS IoT; anything much larger is not one. */
export const MAX_DOCUMENT_BYTES = 64 * 1024;

export interface ConfigShadowOptions {
  readonly thing: string;
  /** The gateway's own config file, before any remote setting. */
  file: AgentConfig;
  /** Where the last applied remote settings are kept (null: not kept, an in-memory outbox). */
  readonly stateFile: string | null;
  /** Runs a config (the file's with the remote settings merged) without a restart. */
  readonly apply: (config: AgentConfig) => void;
  /** A flood of deltas is applied at most this often, the latest winning. */
  readonly minApplyGapMs?: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

interface Applied {
  readonly version: number;
  readonly desired: Record<string, unknown>;
}

/**
 * Remote configuration through the named shadow `config`. On each connection it subscribes to
 * the shadow's delta and answers, then asks for the document, and asks again on each newer
 * delta; the document's desired state is checked against the file's schema with the file's
 * config under it, and either applied (rules and sampling, without a restart) and reported with
 * its version, or refused with every problem's path and reason under `state.reported.refused`,
 * the agent running on as it was. A delta older than the version applied is ignored. What was
 * applied is kept on disk, so a restart while offline runs with it.
 */
export class ConfigShadow {
  private applied: Applied | null = null;
  private pending: Applied | null = null;
  /** The desired state last refused: the same again (at a newer version) is not re-reported. */
  private lastRefused = "";
  /** The desired state last acted on (applied or refused), as JSON. */
  private lastDesired = "";
  /** Top-level keys the cloud's reported state holds (the applied settings of before). */
  private readonly reportedKeys = new Set<string>();
  private applyTimer: NodeJS.Timeout | null = null;
  private lastApplyAt: number | null = null;
  private link: SessionLink | null = null;
  private unlisten: (() => void) | null = null;
  private readonly topics: Record<
    "get" | "update" | "accepted" | "rejected" | "delta" | "documents" | "updateRejected",
    string
  >;

  constructor(private readonly options: ConfigShadowOptions) {
    const at = (operation: Parameters<typeof shadowTopic>[2]) =>
      shadowTopic(options.thing, "config", operation);
    this.topics = {
      get: at("get"),
      update: at("update"),
      accepted: at("get/accepted"),
      rejected: at("get/rejected"),
      delta: at("update/delta"),
      documents: at("update/documents"),
      updateRejected: at("update/rejected"),
    };
  }

  /**
   * The config to start with: the file's, with the remote settings applied before the last stop
   * (null when there are none, or they no longer pass the file's schema).
   */
  restore(): AgentConfig | null {
    const file = this.options.stateFile;
    if (file === null) return null;
    let saved: unknown;
    try {
      saved = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        this.options.logger.warn(
          { err: error, file },
          "remote settings unreadable: the file's config runs",
        );
      return null;
    }
    if (!isObject(saved) || typeof saved.version !== "number" || !isObject(saved.desired))
      return null;
    const result = checkRemote(saved.desired, this.options.file);
    if ("problems" in result) {
      this.options.logger.warn(
        { file, problems: result.problems },
        "the saved remote settings no longer fit this config file: the file's config runs",
      );
      return null;
    }
    this.applied = { version: saved.version, desired: saved.desired };
    this.lastDesired = JSON.stringify(saved.desired);
    this.options.logger.info(
      { version: saved.version },
      "running with the remote settings last applied",
    );
    return result.config;
  }

  /**
   * The gateway's file was reloaded: the config to run is the new file with the applied remote
   * settings over it, or the file alone when they no longer fit it (reported as a refusal).
   */
  rebase(file: AgentConfig): AgentConfig {
    this.options.file = file;
    if (!this.applied) return file;
    const result = checkRemote(this.applied.desired, file);
    if ("problems" in result) {
      this.refuse(this.applied.version, result.problems);
      return file;
    }
    return result.config;
  }

  /** A connection is up (the publisher's session hook): subscribe, then ask for the document. */
  up(link: SessionLink): void {
    this.link = link;
    this.unlisten = link.onMessage(this.onMessage);
    const { delta, documents, accepted, rejected, updateRejected, get } = this.topics;
    link.subscribe([delta, documents, accepted, rejected, updateRejected], 1, (error) => {
      if (error) {
        this.options.logger.warn({ err: error }, "config shadow: cannot subscribe");
        return;
      }
      if (this.link === link) link.publish(get, "{}", 1);
    });
  }

  /** The connection is gone. */
  down(): void {
    this.unlisten?.();
    this.unlisten = null;
    this.link = null;
  }

  stop(): void {
    this.down();
    if (this.applyTimer) clearTimeout(this.applyTimer);
    this.applyTimer = null;
  }

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    const { accepted, rejected, delta, documents, updateRejected } = this.topics;
    if (![accepted, rejected, delta, documents, updateRejected].includes(topic)) return;
    const { logger, metrics } = this.options;
    if (payload.length > MAX_DOCUMENT_BYTES) {
      metrics.increment("shadow_refused", 1, { reason: "size" });
      this.refuse(null, [
        {
          path: "",
          message: `a document of ${payload.length} bytes: more than ${MAX_DOCUMENT_BYTES}`,
        },
      ]);
      return;
    }
    let document: unknown;
    try {
      document = JSON.parse(payload.toString("utf8"));
    } catch {
      metrics.increment("shadow_refused", 1, { reason: "json" });
      this.refuse(null, [{ path: "", message: "not JSON" }]);
      return;
    }
    if (!isObject(document)) {
      this.refuse(null, [{ path: "", message: "expected a JSON object" }]);
      return;
    }
    if (topic === rejected) {
      // No document yet (404): say what runs, so the operator sees it.
      if (document.code !== 404) logger.warn({ document }, "config shadow: get rejected");
      this.report();
      return;
    }
    if (topic === updateRejected) {
      logger.warn({ document }, "config shadow: the cloud refused the agent's report");
      return;
    }
    if (topic === documents) {
      // After any update: a desired state other than the last seen (a value removed from it
      // sends no delta) makes the agent ask for the whole document.
      const current = isObject(document.current) ? document.current : {};
      const currentState = isObject(current.state) ? current.state : {};
      const desired = isObject(currentState.desired) ? currentState.desired : {};
      const newest = Math.max(this.applied?.version ?? -1, this.pending?.version ?? -1);
      if (
        typeof current.version === "number" &&
        current.version > newest &&
        JSON.stringify(desired) !== this.lastDesired
      ) {
        this.link?.publish(this.topics.get, "{}", 1);
      }
      return;
    }
    const version = document.version;
    const state = isObject(document.state) ? document.state : {};
    if (typeof version !== "number") {
      this.refuse(null, [{ path: "version", message: "missing" }]);
      return;
    }
    if (topic === accepted) {
      const desired = isObject(state.desired) ? state.desired : {};
      // What the cloud holds as reported: a setting no longer desired is reported as removed.
      if (isObject(state.reported)) {
        for (const key of Object.keys(state.reported)) this.reportedKeys.add(key);
      }
      // The same desired state as applied, and nothing left to report (no delta): only the
      // version moved (the agent's own reports move it), so there is nothing to do.
      const same = this.applied && JSON.stringify(this.applied.desired) === JSON.stringify(desired);
      if (same && state.delta === undefined && this.applied) {
        this.applied = { version: Math.max(version, this.applied.version), desired };
        this.lastDesired = JSON.stringify(desired);
        return;
      }
      this.offer(version, desired);
      return;
    }
    // A delta carries only what differs, never what was removed from the desired state: it says
    // that something changed, and the whole document (a get) says what.
    const newest = Math.max(this.applied?.version ?? -1, this.pending?.version ?? -1);
    if (version <= newest) {
      this.options.metrics.increment("shadow_stale_deltas");
      return;
    }
    this.link?.publish(this.topics.get, "{}", 1);
  };

  /** A desired state at a version: applied once the gap allows, a later one replacing it. */
  private offer(version: number, desired: Record<string, unknown>): void {
    const newest = Math.max(this.applied?.version ?? -1, this.pending?.version ?? -1);
    if (version <= newest) {
      this.options.metrics.increment("shadow_stale_deltas");
      return;
    }
    this.pending = { version, desired };
    if (this.applyTimer) return;
    const gap = this.options.minApplyGapMs ?? 1000;
    const now = this.options.clock.monotonic();
    const wait = this.lastApplyAt === null ? 0 : Math.max(0, this.lastApplyAt + gap - now);
    this.applyTimer = setTimeout(() => {
      this.applyTimer = null;
      this.applyPending();
    }, wait);
  }

  private applyPending(): void {
    const pending = this.pending;
    this.pending = null;
    if (!pending) return;
    this.lastApplyAt = this.options.clock.monotonic();
    this.lastDesired = JSON.stringify(pending.desired);
    const result = checkRemote(pending.desired, this.options.file);
    if ("problems" in result) {
      this.options.metrics.increment("shadow_refused", 1, { reason: "invalid" });
      const key = JSON.stringify(pending.desired);
      if (key !== this.lastRefused) this.refuse(pending.version, result.problems);
      this.lastRefused = key;
      return;
    }
    this.lastRefused = "";
    this.options.apply(result.config);
    this.applied = pending;
    this.save(pending);
    this.options.metrics.increment("shadow_applied");
    this.options.logger.info(
      { version: pending.version, desired: pending.desired },
      "applied the config shadow",
    );
    this.report();
  }

  /** Reports what runs: the applied settings in the desired state's shape (so no delta is left). */
  private report(): void {
    const applied = this.applied?.desired ?? {};
    // A null removes a key from the document: a setting no longer applied, an earlier refusal.
    const removed = [...this.reportedKeys].filter(
      (key) => !(key in applied) && key !== "configVersion",
    );
    const reported = {
      ...Object.fromEntries(removed.map((key) => [key, null])),
      ...applied,
      configVersion: this.applied?.version ?? null,
      refused: null,
    };
    this.reportedKeys.clear();
    for (const key of Object.keys(applied)) this.reportedKeys.add(key);
    this.send({ state: { reported } });
  }

  private refuse(version: number | null, problems: readonly RemoteProblem[]): void {
    this.options.logger.warn(
      { version, problems },
      "refused the config shadow's desired state; running as before",
    );
    this.send({
      state: {
        reported: {
          refused: { version, at: new Date(this.options.clock.now()).toISOString(), problems },
        },
      },
    });
  }

  private send(body: unknown): void {
    this.link?.publish(this.topics.update, JSON.stringify(body), 1);
  }

  /** Written beside the outbox, atomically (a rename), readable by the agent's user only. */
  private save(applied: Applied): void {
    const file = this.options.stateFile;
    if (file === null) return;
    try {
      const temp = `${file}.tmp`;
      writeFileSync(temp, JSON.stringify(applied), { mode: 0o600 });
      chmodSync(temp, 0o600);
      renameSync(temp, file);
    } catch (error) {
      this.options.logger.error({ err: error, file }, "could not keep the remote settings on disk");
    }
  }
}
