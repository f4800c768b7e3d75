import { z } from "zod";
import { checkHttp, httpSchema, isLoopbackHost } from "./http-schema.js";
import { driverConfigSchema } from "../drivers/registry.js";
import { reportByExceptionSchema, rulesSchema } from "./rules-schema.js";
import { byteSize } from "./size.js";
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
/** IoT Core's message size limit. */
export const IOT_CORE_MAX_MESSAGE_BYTES = 128 * 1024;

const reconnectSchema = z
  .strictObject({
    initialDelayMs: z
      .int()
      .min(100)
      .default(1000)
      .describe("Cap of the first retry's random delay."),
    maxDelayMs: z
      .int()
      .min(1000)
      .default(120_000)
      .describe("Ceiling of the backoff: a fleet of 10,000 gateways must not stampede IoT Core."),
    stableAfterMs: z
      .int()
      .min(0)
      .default(60_000)
      .describe(
        "A connection must stay up this long before the backoff resets; a CONNACK followed by a quick kick (duplicate client id) keeps backing off.",
      ),
  })
  .prefault({})
  .describe("Reconnection: exponential backoff with full jitter, at most one CONNECT a second.");

const mqttSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^(mqtts?):\/\/[^/]+$/, 'expected "mqtts://host[:port]" or "mqtt://host[:port]"')
      .describe("Broker URL. AWS IoT Core: mqtts://<prefix>-ats.iot.<region>.amazonaws.com:8883."),
    ca: z
      .string()
      .optional()
      .describe("PEM file of the CA that signed the broker (AmazonRootCA1.pem)."),
    cert: z.string().optional().describe("PEM file of this gateway's client certificate."),
    key: z
      .string()
      .optional()
      .describe(
        "PEM file of this gateway's private key; must not be readable by others (chmod 600).",
      ),
    alpn: z
      .boolean()
      .default(false)
      .describe("Send ALPN x-amzn-mqtt-ca: needed for MQTT over port 443 on AWS IoT Core."),
    protocolVersion: z
      .union([z.literal(4), z.literal(5)])
      .default(5)
      .describe(
        "4 = MQTT 3.1.1, 5 = MQTT 5. With 5 the broker says why it refused a publish, so rejected rows go to the dead-letter table instead of being retried.",
      ),
    keepaliveSeconds: z
      .int()
      .min(5)
      .max(1200)
      .default(60)
      .describe(
        "MQTT keep-alive. AWS IoT Core accepts 30 to 1200; a half-open link is noticed after 1.5×.",
      ),
    connectTimeoutMs: z
      .int()
      .min(1000)
      .default(15_000)
      .describe("Time allowed for TCP, TLS and CONNACK."),
    maxInflight: z
      .int()
      .min(1)
      .max(1000)
      .default(100)
      .describe("QoS 1 publishes awaiting PUBACK at once (MQTT.js loses callbacks past 65,535)."),
    allowInsecure: z
      .boolean()
      .default(false)
      .describe("Allow plaintext mqtt:// to a host that is not loopback. Never in production."),
    client: z
      .enum(["mqttjs", "aws-crt"])
      .default("mqttjs")
      .describe(
        'The MQTT client: "mqttjs" (MQTT.js, every platform) or "aws-crt" (aws-iot-device-sdk-v2\'s MQTT 5 client, native: x64 and arm64 only; mqtts with a client certificate, protocolVersion 5). Both keep the same contract: QoS 1, the in-flight cap, deletes on PUBACK, the agent\'s own reconnect and rate limits.',
      ),
    reconnect: reconnectSchema,
  })
  .describe("The broker connection.");

const publishSchema = z
  .strictObject({
    envelopeBytes: z
      .int()
      .min(1024)
      .max(IOT_CORE_MAX_MESSAGE_BYTES)
      .default(100_000)
      .describe(
        "Largest backfill message. IoT Core meters in 5 KB steps and refuses over 128 KB; the default is 20 steps.",
      ),
    maxMessagesPerSecond: z
      .int()
      .min(1)
      .max(1_000_000)
      .default(100)
      .describe(
        "Publishes per second on the connection: IoT Core allows 100; set lower to share a link.",
      ),
    maxBytesPerSecond: byteSize
      .prefault("512KiB")
      .describe("Bytes per second on the connection: IoT Core allows 512 KiB."),
  })
  .prefault({})
  .describe("How readings are sent: backfill envelopes and the connection's rate limits.");

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
});

const containerSchema = z.strictObject({
  id: z
    .string()
    .regex(CONTAINER_ID, "expected 1-64 characters of A-Z a-z 0-9 _ . -")
    .describe("Container id (ISO 6346 number, e.g. MSKU1234565): one topic level, unique here."),
  product: z.string().describe("Product id: P01-P05 built in, or one of `products`."),
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

export const configSchema = z
  .strictObject({
    version: z.literal(CONFIG_VERSION).describe("Config format version."),
    gateway: z
      .strictObject({
        id: z
          .string()
          .regex(
            THING_NAME,
            "expected an AWS IoT thing name: 1-128 characters of A-Z a-z 0-9 : _ -",
          )
          .describe("Gateway id = AWS IoT thing name = MQTT client id."),
      })
      .describe("This gateway."),
    mqtt: mqttSchema,
    buffer: bufferSchema,
    publish: publishSchema,
    sampling: samplingSchema,
    products: z.array(productSchema).default([]).describe("Products beyond the built-in P01-P05."),
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
    health: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            "Report the gateway's health to its named shadow `health` ($aws/things/<gateway>/shadow/name/health/update, QoS 0, outside the outbox): outbox depth, bytes and oldest age, evictions, dead letters, clock state, Modbus requests and errors per device, unreachable devices, version, boot id, uptime, last delivery.",
          ),
        intervalSeconds: z
          .int()
          .min(10)
          .default(300)
          .describe("The routine report's period, while nothing changes."),
        minGapSeconds: z
          .int()
          .min(1)
          .default(10)
          .describe(
            "A change of state (a backlog starts or drains, the clock's trust changes, a device fails or recovers) is reported at once, but never two reports closer than this.",
          ),
      })
      .prefault({})
      .describe("Health in the device shadow: which gateways hold a backlog, seen from the cloud."),
    remoteConfig: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            "Take sampling.intervalMs and rules from the named shadow `config` (state.desired), checked by this schema with this file under them, applied without a restart and reported with the version applied; a refusal is reported with each problem's path. Identity, broker, certificates, outbox and listener stay this file's.",
          ),
        stateFile: z
          .string()
          .optional()
          .describe(
            "Where the last applied remote settings are kept, so a restart while offline runs with them. Default: remote-config.json beside the outbox.",
          ),
      })
      .prefault({})
      .describe("Remote configuration through the device shadow."),
  })
  .superRefine(checkConsistency);

export type AgentConfig = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ContainerConfig = AgentConfig["containers"][number];

const BUILTIN_PRODUCT_IDS = ["P01", "P02", "P03", "P04", "P05"];
export { isLoopbackHost };

/** The checks that span fields; each names the path it is about. */
function checkConsistency(config: z.output<z.ZodObject>, ctx: z.RefinementCtx): void {
  const c = config as unknown as AgentConfig;
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
  const url = new URL(c.mqtt.url);
  if (url.protocol === "mqtt:" && !isLoopbackHost(url.hostname) && !c.mqtt.allowInsecure) {
    ctx.addIssue({
      code: "custom",
      path: ["mqtt", "url"],
      message: `plaintext MQTT to ${url.hostname}, which is not loopback: use mqtts:// or set mqtt.allowInsecure: true`,
    });
  }
  if (url.protocol === "mqtts:") {
    const missing = (["cert", "key"] as const).filter((k) => c.mqtt[k] === undefined);
    if (missing.length === 1) {
      ctx.addIssue({
        code: "custom",
        path: ["mqtt", missing[0] ?? "key"],
        message: "a client certificate needs both mqtt.cert and mqtt.key",
      });
    }
  }
  checkHttp(c.http, ctx);
  if (c.mqtt.client === "aws-crt") {
    const needs = [
      c.mqtt.url.startsWith("mqtts://") ? null : "an mqtts:// url",
      c.mqtt.cert !== undefined && c.mqtt.key !== undefined ? null : "mqtt.cert and mqtt.key",
      c.mqtt.protocolVersion === 5 ? null : "protocolVersion 5",
      c.mqtt.alpn ? "no alpn (port 8883)" : null,
    ].filter((n) => n !== null);
    if (needs.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["mqtt", "client"],
        message: `aws-crt needs ${needs.join(", ")}`,
      });
    }
  }
  if (c.mqtt.reconnect.initialDelayMs > c.mqtt.reconnect.maxDelayMs) {
    ctx.addIssue({
      code: "custom",
      path: ["mqtt", "reconnect", "initialDelayMs"],
      message: "must not exceed mqtt.reconnect.maxDelayMs",
    });
  }
}

/** Per-read timeout in force for a sampling interval. */
export function readTimeoutMs(config: AgentConfig, intervalMs: number): number {
  return config.sampling.timeoutMs ?? Math.min(10_000, Math.floor(intervalMs / 2));
}
