import { z } from "zod";
import { isLoopbackHost } from "./http-schema.js";
import { byteSize } from "./size.js";

/** AWS IoT Core's message size limit. */
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
    fleetSize: z
      .int()
      .min(1)
      .max(1_000_000)
      .default(1)
      .describe(
        "How many gateways share the account's connect budget (connectsPerSecond): with it, a gateway spreads its reconnects over fleetSize / (0.8 × connectsPerSecond) seconds, so a fleet that lost the broker at once comes back under the rate AWS IoT Core accepts. 1: this gateway alone.",
      ),
    connectsPerSecond: z
      .number()
      .min(1)
      .max(100_000)
      .default(100)
      .describe(
        "The account's connect budget, CONNECT requests a second: AWS IoT Core's default quota is 500 in us-east-1, us-west-2 and eu-west-1 and 100 in the other regions (raised on request). A CONNECT the broker turns away as busy, throttled or over quota, or whose CONNACK does not come in time, is tried again at a fresh random moment of the window, not after a doubled wait.",
      ),
  })
  .prefault({})
  .describe(
    "Reconnection: exponential backoff with full jitter, spread over the fleet's connect window (fleetSize / (0.8 × connectsPerSecond)), at most one CONNECT a second.",
  );

export const mqttSchema = z
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

/** An AWS IoT rule's name: letters, digits and underscores, at most 128. */
const iotRuleName = z
  .string()
  .regex(/^[A-Za-z0-9_]{1,128}$/, "an AWS IoT rule name: letters, digits and underscores");

export const publishSchema = z
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
    basicIngest: z
      .strictObject({
        telemetry: iotRuleName
          .optional()
          .describe(
            "Publish live readings to this IoT rule by Basic Ingest ($aws/rules/<rule>/dt/reefer/...): the deployed telemetry rule, reefer_telemetry_to_kinesis (with a stage, <stage>_reefer_telemetry_to_kinesis).",
          ),
        backfill: iotRuleName
          .optional()
          .describe(
            "Publish backfill envelopes to this IoT rule by Basic Ingest: the deployed backfill rule, reefer_backfill_to_lake (with a stage, <stage>_reefer_backfill_to_lake).",
          ),
      })
      .prefault({})
      .describe(
        "AWS IoT Basic Ingest: readings go straight to one rule, without the broker's messaging charge ($1 a million at list price, most of the bill at 1 Hz). Needs the cloud deployed with -c basicIngest=true (the gateway policy's permission). A Basic Ingest message reaches that one rule only, so a reading the rule's door refuses is not kept by the quarantine rule; it shows as a hole in its gateway's audit log instead. Alerts and the audit log always go through the broker: each reaches more than one rule.",
      ),
  })
  .prefault({})
  .describe("How readings are sent: backfill envelopes and the connection's rate limits.");

/** The checks across the broker's settings; each names the path it is about. */
export function checkMqtt(mqtt: z.output<typeof mqttSchema>, ctx: z.RefinementCtx): void {
  const url = new URL(mqtt.url);
  if (url.protocol === "mqtt:" && !isLoopbackHost(url.hostname) && !mqtt.allowInsecure) {
    ctx.addIssue({
      code: "custom",
      path: ["mqtt", "url"],
      message: `plaintext MQTT to ${url.hostname}, which is not loopback: use mqtts:// or set mqtt.allowInsecure: true`,
    });
  }
  if (url.protocol === "mqtts:") {
    const missing = (["cert", "key"] as const).filter((k) => mqtt[k] === undefined);
    if (missing.length === 1) {
      ctx.addIssue({
        code: "custom",
        path: ["mqtt", missing[0] ?? "key"],
        message: "a client certificate needs both mqtt.cert and mqtt.key",
      });
    }
  }
  if (mqtt.client === "aws-crt") {
    const needs = [
      mqtt.url.startsWith("mqtts://") ? null : "an mqtts:// url",
      mqtt.cert !== undefined && mqtt.key !== undefined ? null : "mqtt.cert and mqtt.key",
      mqtt.protocolVersion === 5 ? null : "protocolVersion 5",
      mqtt.alpn ? "no alpn (port 8883)" : null,
    ].filter((n) => n !== null);
    if (needs.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["mqtt", "client"],
        message: `aws-crt needs ${needs.join(", ")}`,
      });
    }
  }
  if (mqtt.reconnect.initialDelayMs > mqtt.reconnect.maxDelayMs) {
    ctx.addIssue({
      code: "custom",
      path: ["mqtt", "reconnect", "initialDelayMs"],
      message: "must not exceed mqtt.reconnect.maxDelayMs",
    });
  }
}
