import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { prepareDrivers } from "../drivers/registry.js";
import { configSchema, type AgentConfig } from "./schema.js";

/** One thing wrong with a config, at a path such as `containers[2].driver.scenario`. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** A config that cannot be used; carries every problem, not just the first. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `invalid config ${source}:\n` +
        problems.map((p) => `  ${p.path || "(root)"}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Environment variables that override config values: REEFER_EDGE__MQTT__URL sets mqtt.url. */
export const ENV_PREFIX = "REEFER_EDGE__";

/**
 * Reads a YAML config file, applies environment overrides, validates it and resolves the file
 * paths in it relative to the config file's folder (so a config works from any working dir).
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = {}): AgentConfig {
  return parseConfigText(readConfigText(file), file, env);
}

/** A config file's text; ConfigError when it cannot be read. */
export function readConfigText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(file, [
      { path: "", message: `cannot read: ${(error as Error).message}` },
    ]);
  }
}

/** YAML text as plain data; ConfigError naming each syntax error. */
export function parseYaml(text: string, source: string): unknown {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      source,
      document.errors.map((e) => ({
        path: "",
        message: `YAML: ${e.message.split("\n")[0] ?? ""}`,
      })),
    );
  }
  return document.toJS() ?? {};
}

export function parseConfigText(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = {},
): AgentConfig {
  const raw = parseYaml(text, source);
  applyEnvOverrides(raw, env, source);
  const config = validateConfig(raw, source);
  const baseDir = dirname(resolve(source));
  const drivers = prepareDrivers(config.containers, baseDir);
  if (drivers.problems.length > 0) throw new ConfigError(source, drivers.problems);
  return resolvePaths({ ...config, containers: drivers.containers }, baseDir);
}

export function validateConfig(raw: unknown, source: string): AgentConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, toProblems(result.error));
  return result.data;
}

export function toProblems(error: z.ZodError): ConfigProblem[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`))
    .join("");
}

/**
 * REEFER_EDGE__MQTT__KEEPALIVE_SECONDS=30 sets mqtt.keepaliveSeconds; a numeric segment indexes
 * an array (REEFER_EDGE__CONTAINERS__0__PRODUCT). Values are read as YAML scalars, so numbers
 * and booleans keep their types.
 */
function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv, source: string): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split("__").map(toKey);
    if (typeof raw !== "object" || raw === null || segments.some((s) => s === "")) {
      throw new ConfigError(source, [
        { path: name, message: "cannot apply this environment override" },
      ]);
    }
    let node = raw as Record<string, unknown>;
    for (const segment of segments.slice(0, -1)) {
      const next = node[segment];
      if (typeof next !== "object" || next === null) node[segment] = {};
      node = node[segment] as Record<string, unknown>;
    }
    const last = segments[segments.length - 1] ?? "";
    node[last] = parseDocument(value).toJS() as unknown;
  }
}

/** KEEPALIVE_SECONDS -> keepaliveSeconds; 0 -> 0. */
function toKey(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function resolvePaths(config: AgentConfig, base: string): AgentConfig {
  const at = (p: string | undefined): string | undefined =>
    p === undefined || isAbsolute(p) ? p : resolve(base, p);
  return {
    ...config,
    mqtt: {
      ...config.mqtt,
      ca: at(config.mqtt.ca),
      cert: at(config.mqtt.cert),
      key: at(config.mqtt.key),
    },
    buffer: { ...config.buffer, path: at(config.buffer.path) ?? config.buffer.path },
    http: { ...config.http, tokenFile: at(config.http.tokenFile) },
    audit: { ...config.audit, keyFile: at(config.audit.keyFile) },
  };
}
