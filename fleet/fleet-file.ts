import { dirname, isAbsolute, join, resolve } from "node:path";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { BUILTIN_PRODUCTS } from "../core/products.js";
import {
  ConfigError,
  parseYaml,
  readConfigText,
  toProblems,
  validateConfig,
} from "../config/load.js";
import type { AgentConfig } from "../config/schema.js";
import { fleetSchema, type ChaosEvent, type FleetConfig } from "../config/fleet-schema.js";
import type { Scenario } from "../drivers/simulated/config.js";
import type { LinkGroup } from "./protocol.js";

/** Reads and validates a fleet file; relative paths are relative to its folder. */
export function loadFleetFile(file: string): FleetConfig {
  return parseFleet(parseYaml(readConfigText(file), file), file, dirname(resolve(file)));
}

/**
 * Validates a fleet (from a file or built in code) and the agent settings its gateways share, so
 * a mistake in `agent:` is reported once, at its path, before any gateway starts.
 */
export function parseFleet(raw: unknown, source: string, baseDir: string): FleetConfig {
  const result = fleetSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, toProblems(result.error));
  const fleet = resolveFleetPaths(result.data, baseDir);
  try {
    gatewayConfig(fleet, 0, { url: "mqtts://127.0.0.1:8883", ca: "ca.pem" });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(
      source,
      error.problems.map((p) => ({ path: `agent.${p.path}`, message: p.message })),
    );
  }
  return fleet;
}

function resolveFleetPaths(fleet: FleetConfig, base: string): FleetConfig {
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const mqtt = { ...fleet.agent.mqtt };
  if (mqtt.ca !== undefined) mqtt.ca = at(mqtt.ca);
  return {
    ...fleet,
    dataDir: at(fleet.dataDir),
    broker: {
      ...fleet.broker,
      binary: fleet.broker.binary.includes("/") ? at(fleet.broker.binary) : fleet.broker.binary,
    },
    ...(fleet.issuer && { issuer: { cert: at(fleet.issuer.cert), key: at(fleet.issuer.key) } }),
    agent: { ...fleet.agent, ...(fleet.agent.mqtt !== undefined && { mqtt }) },
  };
}

/** `<prefix>-00042`: zero-padded to 5 so ids sort as numbers do. */
export function gatewayId(fleet: Pick<FleetConfig, "idPrefix">, index: number): string {
  return `${fleet.idPrefix}-${String(index).padStart(5, "0")}`;
}

export function observerId(fleet: Pick<FleetConfig, "idPrefix">): string {
  return `${fleet.idPrefix}-observer`;
}

export function gatewayDir(fleet: FleetConfig, id: string): string {
  return join(fleet.dataDir, "gateways", id);
}

export function certDir(fleet: FleetConfig): string {
  return join(fleet.dataDir, "certs");
}

/** The CA the fleet makes for itself when the file names no issuer. */
export function ownIssuerFiles(fleet: FleetConfig): { cert: string; key: string } {
  return { cert: join(certDir(fleet), "issuer.crt"), key: join(certDir(fleet), "issuer.key") };
}

/** Where a gateway's certificate and key are cached. */
export function identityFiles(fleet: FleetConfig, id: string): { cert: string; key: string } {
  return { cert: join(certDir(fleet), `${id}.crt`), key: join(certDir(fleet), `${id}.key`) };
}

/** Container j's scenario: a seeded draw from the mix, the same for the same seed and index. */
export function scenarioOf(fleet: FleetConfig, gateway: number, container: number): Scenario {
  const weights = Object.entries(fleet.scenarios).filter(([, w]) => w > 0) as [Scenario, number][];
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  const draw = seededDraw(containerSeed(fleet, gateway, container), 0x5eed) * total;
  let cumulative = 0;
  for (const [scenario, weight] of weights) {
    cumulative += weight;
    if (draw < cumulative) return scenario;
  }
  return weights[weights.length - 1]?.[0] ?? "normal";
}

/**
 * A uniform draw in [0, 1) for a seed and a purpose. xoroshiro's first output for neighbouring
 * seeds is correlated (a test caught a mix that gave every gateway the same scenario), so the
 * seed goes through MurmurHash3's 32-bit finalizer first.
 */
function seededDraw(seed: number, purpose: number): number {
  return uniformFloat64(xoroshiro128plus(mix32(seed ^ purpose)));
}

function mix32(seed: number): number {
  let h = seed | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

function containerSeed(fleet: FleetConfig, gateway: number, container: number): number {
  return (fleet.seed * 1_000_003 + gateway * 64 + container) | 0;
}

/**
 * The link group a gateway belongs to: behind the partition proxy (the first `partition`
 * fraction of a seeded draw), behind the slow one (the last `slow-link` fraction), or direct.
 * The same gateways for every event of a kind, so a report can name who was cut off.
 */
export function linkGroupOf(fleet: FleetConfig, index: number): LinkGroup | null {
  const fraction = (kind: string) =>
    Math.max(0, ...fleet.chaos.map((e) => (e.kind === kind && "fraction" in e ? e.fraction : 0)));
  const partition = fraction("partition");
  const slow = fraction("slow-link");
  if (partition === 0 && slow === 0) return null;
  const draw = seededDraw(fleet.seed * 7_919 + index, 0x11ce);
  if (draw < partition) return "partition";
  if (draw >= 1 - slow) return "slow";
  return null;
}

export interface BrokerEndpoint {
  /** Where this gateway connects: the broker, or a link proxy in front of it. */
  readonly url: string;
  /** The CA file that signed the broker's certificate. */
  readonly ca?: string | undefined;
}

/**
 * Gateway `index`'s agent config: the fleet's shared settings with its own id, containers,
 * outbox and certificate; validated by the agent's own schema.
 */
export function gatewayConfig(
  fleet: FleetConfig,
  index: number,
  broker: BrokerEndpoint,
): AgentConfig {
  const id = gatewayId(fleet, index);
  const shared = fleet.agent;
  const containers = Array.from({ length: fleet.containersPerGateway }, (_, j) => ({
    id: `${id}-C${j + 1}`,
    product: BUILTIN_PRODUCTS[(index + j) % BUILTIN_PRODUCTS.length]?.id ?? "P01",
    driver: {
      type: "simulated",
      scenario: scenarioOf(fleet, index, j),
      // The simulated model draws from the seed too: neighbours must not run in lockstep.
      seed: mix32(containerSeed(fleet, index, j)),
      timeScale: fleet.timeScale,
    },
  }));
  const raw = {
    ...shared,
    version: 1,
    gateway: { id },
    mqtt: {
      ...shared.mqtt,
      // The fleet shares one connect budget, as gateways of one AWS account do: after a broker
      // restart each spreads its reconnects over fleetSize / (0.8 × connectsPerSecond).
      reconnect: { fleetSize: fleet.gateways, ...shared.mqtt?.reconnect },
      url: broker.url,
      ...(broker.ca !== undefined && { ca: broker.ca }),
      ...identityFiles(fleet, id),
    },
    // A small page cache and reserve: thousands of outboxes share one process and one disk
    // (BENCHMARKS.md, the fleet).
    buffer: {
      cacheKiB: 40,
      reserveKiB: 64,
      ...shared.buffer,
      path: join(gatewayDir(fleet, id), "outbox.db"),
    },
    log: { level: "warn", ...shared.log },
    // A rehearsal's broker has no shadow service: remote config is off unless the fleet asks.
    remoteConfig: { enabled: false, ...shared.remoteConfig },
    // The audit log is off unless the fleet asks: a rehearsal measures the telemetry path, and
    // ten thousand signing keys on one disk prove nothing about one gateway's log.
    audit: { enabled: false, ...shared.audit },
    // A release in the chaos schedule: updates on, checked with the run's release key.
    ...(releaseOf(fleet) && {
      update: {
        ...shared.update,
        enabled: true,
        releaseKeyFile: releaseKeyFile(fleet),
        soakSeconds: releaseOf(fleet)?.soakSeconds,
      },
    }),
    containers,
  };
  return validateConfig(raw, `fleet gateway ${id}`);
}

/** The fleet's release, if its chaos schedule has one (one at most). */
export function releaseOf(fleet: FleetConfig): Extract<ChaosEvent, { kind: "release" }> | null {
  return fleet.chaos.find((e) => e.kind === "release") ?? null;
}

/** The public half of the run's release key, which every gateway checks releases with. */
export function releaseKeyFile(fleet: FleetConfig): string {
  return join(fleet.dataDir, "release-key.pem");
}

/** The gateways of shard `i` of `k` (1-based, as `--shard 2/4` reads): contiguous slices. */
export function shardRange(
  gateways: number,
  shard: { index: number; of: number },
): [number, number] {
  const per = Math.ceil(gateways / shard.of);
  const start = Math.min(gateways, (shard.index - 1) * per);
  return [start, Math.min(gateways, start + per)];
}

/** Parses `--shard 2/4`. */
export function parseShard(text: string | undefined): { index: number; of: number } | null {
  if (text === undefined) return { index: 1, of: 1 };
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const of = Number(match?.[2]);
  return match && of >= 1 && index >= 1 && index <= of ? { index, of } : null;
}
