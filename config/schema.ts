import { z } from "zod";
import { BUILTIN_PRODUCTS } from "../core/products.js";
import { checkHttp, httpSchema, isLoopbackHost } from "./http-schema.js";
import { checkMqtt, mqttSchema, publishSchema } from "./mqtt-schema.js";
import { healthSchema, remoteConfigSchema } from "./shadow-schema.js";
import { updateSchema } from "./update-schema.js";
import { driverConfigSchema } from "../drivers/registry.js";
import { reportByExceptionSchema, rulesSchema } from "./rules-schema.js";
import { auditSchema } from "./audit-schema.js";
import { bufferSchema } from "./buffer-schema.js";

/**
 * The one source of the config's TypeScript types, defaults, validation, JSON Schema
 * (config/schema.json) and reference doc (config/REFERENCE.md). Both files are generated from
 * this by `npm run config:docs`; a test fails when they are stale.
 */

export const CONFIG_VERSION = 1;

/** AWS IoT thing names: the gateway id is the MQTT client id and the thing name. */
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
/** Container ids become one topic level: no MQTT wildcards or separators. */
const CONTAINER_ID = /^[a-zA-Z0-9_.-]{1,64}$/;
const samplingSchema = z
  .strictObject({
    intervalMs: z
      .int()
      .min(100)
      .default(60_000)
      .describe("Time between two readings of a container."),
    timeoutMs: z
      .int()
      .min(10)
      .optional()
      .describe(
        "Per-read timeout; default: half the interval, at most 10 s. Must be below the interval.",
      ),
  })
  .prefault({})
  .describe("How often containers are read.");

const productSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/)
    .describe("Product id, as containers[].product names it."),
  name: z.string().min(1).describe("What it is (bananas)."),
  targetTemperature: z.number().min(-60).max(40).describe("Setpoint, °C."),
  targetHumidity: z.number().min(0).max(100).describe("Target relative humidity, %."),
  threshold: z
    .number()
    .min(-60)
    .max(80)
    .optional()
    .describe(
      "Excursion threshold, °C: a reading strictly above is over. Unset: rules.temperature.threshold.",
    ),
});

const containerSchema = z.strictObject({
  id: z
    .string()
    .regex(CONTAINER_ID, "expected 1-64 characters of A-Z a-z 0-9 _ . -")
    .describe("Container id (ISO 6346 number, e.g. MSKU1234565): one topic level, unique here."),
  product: z.string().describe("Product id: P01-P06 built in, or one of `products`."),
  intervalMs: z
    .int()
    .min(100)
    .optional()
    .describe("Overrides sampling.intervalMs for this container."),
  reportByException: reportByExceptionSchema.optional(),
  driver: driverConfigSchema,
});

const logSchema = z
  .strictObject({
    level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
    pretty: z
      .enum(["auto", "always", "never"])
      .default("auto")
      .describe("Human-readable logs; auto: when standard output is a terminal."),
  })
  .prefault({})
  .describe("Logging: JSON lines to standard output (journald), key material never logged.");

const configShape = z.strictObject({
  version: z.literal(CONFIG_VERSION).describe("Config format version."),
  gateway: z
    .strictObject({
      id: z
        .string()
        .regex(THING_NAME, "expected an AWS IoT thing name: 1-128 characters of A-Z a-z 0-9 : _ -")
        .describe("Gateway id = AWS IoT thing name = MQTT client id."),
    })
    .describe("This gateway."),
  mqtt: mqttSchema,
  buffer: bufferSchema,
  publish: publishSchema,
  sampling: samplingSchema,
  products: z.array(productSchema).default([]).describe("Products beyond the built-in P01-P06."),
  containers: z
    .array(containerSchema)
    .min(1)
    .describe("The reefers this gateway reads, one driver each."),
  rules: rulesSchema,
  clock: z
    .strictObject({
      trust: z
        .enum(["plausible", "timesyncd"])
        .default("plausible")
        .describe(
          'When the wall clock is trusted: "plausible", any time after this build\'s floor; "timesyncd", only once systemd-timesyncd says it synchronized (its flag file exists), which also catches a stale fake-hwclock time. Readings captured before are stamped clock: unsynced and corrected in the outbox once it is trusted.',
        ),
      timesyncdFlag: z
        .string()
        .default("/run/systemd/timesync/synchronized")
        .describe("The file systemd-timesyncd creates once the clock is synchronized."),
    })
    .prefault({})
    .describe("Clock integrity: a Raspberry Pi has no real-time clock."),
  log: logSchema,
  http: httpSchema,
  health: healthSchema,
  remoteConfig: remoteConfigSchema,
  update: updateSchema,
  audit: auditSchema,
});

export const configSchema = configShape.superRefine(checkConsistency);

export type AgentConfig = z.output<typeof configShape>;
export type ConfigInput = z.input<typeof configShape>;
export type ContainerConfig = AgentConfig["containers"][number];

const BUILTIN_PRODUCT_IDS = BUILTIN_PRODUCTS.map((p) => p.id);
export { isLoopbackHost };

/** The checks that span fields; each names the path it is about. */
function checkConsistency(c: AgentConfig, ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  const products = new Set([...BUILTIN_PRODUCT_IDS, ...c.products.map((p) => p.id)]);
  c.containers.forEach((container, index) => {
    const first = seen.get(container.id);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["containers", index, "id"],
        message: `duplicate container id "${container.id}" (also containers[${first}])`,
      });
    } else seen.set(container.id, index);
    if (!products.has(container.product)) {
      ctx.addIssue({
        code: "custom",
        path: ["containers", index, "product"],
        message: `unknown product "${container.product}"; known: ${[...products].join(", ")}`,
      });
    }
    const interval = container.intervalMs ?? c.sampling.intervalMs;
    const timeout = c.sampling.timeoutMs;
    if (timeout !== undefined && timeout >= interval) {
      ctx.addIssue({
        code: "custom",
        path: ["sampling", "timeoutMs"],
        message: `must be below the sampling interval of containers[${index}] (${interval} ms)`,
      });
    }
  });
  for (const product of Object.keys(c.rules.temperature.products)) {
    if (!products.has(product)) {
      ctx.addIssue({
        code: "custom",
        path: ["rules", "temperature", "products", product],
        message: `unknown product "${product}"; known: ${[...products].join(", ")}`,
      });
    }
  }
  checkMqtt(c.mqtt, ctx);
  checkHttp(c.http, ctx);
}
