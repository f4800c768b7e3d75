import { ConfigError, validateConfig } from "../../config/load.js";
import type { AgentConfig } from "../../config/schema.js";

/** The settings an operator may change through the `config` shadow, in the file's own shapes. */
export interface RemoteSettings {
  readonly sampling?: { readonly intervalMs?: number };
  readonly rules?: Record<string, unknown>;
  readonly log?: { readonly level?: string };
  /** Per container, by id: only its report by exception. */
  readonly containers?: readonly { readonly id: string; readonly reportByException?: unknown }[];
}

/** One reason a desired state was refused, at its path (`rules.temperature.threshold`). */
export interface RemoteProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * What the shadow may set: a subtree (`rules`) or single leaves (`sampling.intervalMs`,
 * `log.level`); `containers` is checked apart (entries by id, their `reportByException` only).
 */
const REMOTE = { sampling: { intervalMs: true }, rules: true, log: { level: true } } as const;
/** Settings only the gateway's own file sets: identity, broker, certificates, outbox, listener. */
const LOCAL_ONLY = new Set([
  "version",
  "gateway",
  "mqtt",
  "buffer",
  "http",
  "clock",
  "products",
  "publish",
  "health",
  "remoteConfig",
]);

/**
 * Checks a desired state against what the shadow may change, then the running config with it
 * merged against the file's own schema: the result is the config to run, or every problem with
 * its path. A desired state that touches a local-only setting is refused whole: an operator's
 * typo must not half-apply.
 */
export function checkRemote(
  desired: unknown,
  running: AgentConfig,
): { config: AgentConfig; settings: RemoteSettings } | { problems: RemoteProblem[] } {
  if (!isObject(desired)) return { problems: [{ path: "", message: "expected an object" }] };
  const problems: RemoteProblem[] = [];
  const { containers, ...rest } = desired;
  allowed(rest, REMOTE, "", problems);
  if (containers !== undefined) checkContainers(containers, running, problems);
  if (problems.length > 0) return { problems };
  const settings = desired as RemoteSettings;
  try {
    const merged = deepMerge(structuredClone(running), {
      ...(settings.sampling && { sampling: settings.sampling }),
      ...(settings.rules && { rules: settings.rules }),
      ...(settings.log && { log: settings.log }),
    });
    if (settings.containers) {
      const byId = new Map(settings.containers.map((c) => [c.id, c]));
      merged.containers = running.containers.map((c) => {
        const remote = byId.get(c.id);
        if (!remote) return c;
        const { reportByException: _file, ...others } = c;
        // A null (or absent) reportByException: the file's own applies again.
        return remote.reportByException === null || remote.reportByException === undefined
          ? { ...others, ...(_file && { reportByException: _file }) }
          : { ...others, reportByException: remote.reportByException };
      });
    }
    return { config: validateConfig(merged, "the config shadow"), settings };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { problems: error.problems.map((p) => ({ path: p.path, message: p.message })) };
  }
}

/** `containers`: entries naming this gateway's containers, each setting its reportByException. */
function checkContainers(value: unknown, running: AgentConfig, problems: RemoteProblem[]): void {
  if (!Array.isArray(value)) {
    problems.push({ path: "containers", message: "expected a list of { id, reportByException }" });
    return;
  }
  const ids = new Set(running.containers.map((c) => c.id));
  value.forEach((entry: unknown, i) => {
    const at = `containers.${i}`;
    if (!isObject(entry) || typeof entry.id !== "string") {
      problems.push({ path: at, message: "expected { id, reportByException }" });
      return;
    }
    if (!ids.has(entry.id)) {
      problems.push({ path: `${at}.id`, message: `no container ${entry.id} on this gateway` });
    }
    for (const key of Object.keys(entry)) {
      if (key !== "id" && key !== "reportByException") {
        problems.push({
          path: `${at}.${key}`,
          message: "a local-only setting: only the gateway's own config file sets it",
        });
      }
    }
  });
}

function allowed(
  value: Record<string, unknown>,
  shape: Record<string, unknown>,
  at: string,
  problems: RemoteProblem[],
): void {
  for (const [key, child] of Object.entries(value)) {
    const path = at ? `${at}.${key}` : key;
    const rule = shape[key];
    if (rule === true) continue;
    if (rule === undefined) {
      problems.push({
        path,
        message:
          !at && LOCAL_ONLY.has(key)
            ? "a local-only setting: only the gateway's own config file sets it"
            : "not a setting the shadow may change",
      });
    } else if (!isObject(child)) {
      problems.push({ path, message: "expected an object" });
    } else {
      allowed(child, rule as Record<string, unknown>, path, problems);
    }
  }
}

/**
 * Merges `patch` into `base`: objects recursively, anything else replaced. (A shadow document
 * never holds a null: setting one removes the key, so the file's value applies.)
 */
export function deepMerge(
  base: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) continue;
    const under = out[key];
    out[key] = isObject(value) && isObject(under) ? deepMerge(under, value) : value;
  }
  return out;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
