import { EventEmitter } from "node:events";
import { ConfigError } from "../../config/load.js";
import { createRequire } from "node:module";
import type { IClientOptions, MqttClient } from "mqtt";
import type { mqtt5 as Mqtt5, iot as Iot } from "aws-iot-device-sdk-v2";

type Sdk = { mqtt5: typeof Mqtt5; iot: typeof Iot };

/** The CRT transport cannot run here: no SDK installed, or no native binary (armv7). */
export class CrtUnavailableError extends Error {
  constructor(cause: unknown) {
    super(
      `mqtt.client aws-crt: aws-iot-device-sdk-v2 cannot be loaded here (${(cause as Error).message.split("\n")[0] ?? ""}); ` +
        "it is an optional dependency with native binaries for x64 and arm64 only: use mqtt.client: mqttjs",
      { cause },
    );
    this.name = "CrtUnavailableError";
  }
}

let sdk: Sdk | null = null;
function loadSdk(): Sdk {
  if (sdk) return sdk;
  try {
    sdk = createRequire(import.meta.url)("aws-iot-device-sdk-v2") as Sdk;
    return sdk;
  } catch (error) {
    throw new CrtUnavailableError(error);
  }
}

/** Whether the CRT transport can run on this machine (its SDK and native binary load). */
export function crtAvailable(): boolean {
  try {
    loadSdk();
    return true;
  } catch {
    return false;
  }
}

/** Refuses a config asking for the CRT client where it cannot load, naming the setting. */
export function checkCrtClient(client: "mqttjs" | "aws-crt"): void {
  if (client !== "aws-crt" || crtAvailable()) return;
  throw new ConfigError("mqtt.client", [
    {
      path: "mqtt.client",
      message: `aws-crt cannot run on this machine (${process.platform}-${process.arch}): aws-iot-device-sdk-v2 is missing or has no native binary here; use mqttjs`,
    },
  ]);
}

/**
 * aws-iot-device-sdk-v2's MQTT 5 client (the AWS CRT, native) behind the few calls the agent
 * makes of an MQTT.js client, so the publisher, its reconnect policy and the shadows run on it
 * unchanged. Written by hand because no library adapts one to the other. Like the agent's MQTT.js
 * clients it lives for one connection: the CRT's own reconnect is pushed out of the way (the
 * agent's full-jitter policy decides), its offline queue fails on a disconnect (the outbox keeps
 * the rows), and its AWS IoT flow control (100 publishes a second) is off: the agent's own rate
 * limits (`publish.*`) govern, as they do for MQTT.js.
 */
class CrtConnection extends EventEmitter {
  private readonly client: Mqtt5.Mqtt5Client;
  private closed = false;

  constructor(url: URL, options: IClientOptions) {
    super();
    const { mqtt5, iot } = loadSdk();
    const pem = (value: unknown): string =>
      Buffer.isBuffer(value) ? value.toString("utf8") : typeof value === "string" ? value : "";
    const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(
      url.hostname,
      pem(options.cert),
      pem(options.key),
    );
    builder.withPort(Number(url.port || 8883));
    if (options.ca) builder.withCertificateAuthority(pem(options.ca));
    builder.withConnectProperties({
      clientId: options.clientId ?? "",
      keepAliveIntervalSeconds: options.keepalive ?? 60,
    });
    builder.withSessionBehavior(mqtt5.ClientSessionBehavior.Clean);
    builder.withOfflineQueueBehavior(mqtt5.ClientOperationQueueBehavior.FailAllOnDisconnect);
    // One connection per client: the agent stops it on the first disconnect, long before this.
    builder.withMinReconnectDelayMs(3_600_000);
    builder.withMaxReconnectDelayMs(3_600_000);
    builder.withConnackTimeoutMs(options.connectTimeout ?? 30_000);
    builder.withExtendedValidationAndFlowControlOptions(
      mqtt5.ClientExtendedValidationAndFlowControl.None,
    );
    this.client = new mqtt5.Mqtt5Client(builder.build());
    this.client.on("connectionSuccess", () => this.emit("connect"));
    this.client.on("connectionFailure", (event) => {
      this.emit("error", event.error);
      this.close();
    });
    this.client.on("disconnection", (event) => {
      this.emit("error", event.error);
      this.close();
    });
    this.client.on("messageReceived", (event) => {
      const payload = event.message.payload;
      const bytes =
        payload === undefined
          ? Buffer.alloc(0)
          : typeof payload === "string"
            ? Buffer.from(payload)
            : Buffer.from(payload as ArrayBuffer);
      this.emit("message", event.message.topicName, bytes);
    });
    this.client.start();
  }

  publish(
    topic: string,
    payload: string,
    options: { qos: 0 | 1 },
    callback?: (error?: Error) => void,
  ): this {
    const { mqtt5 } = loadSdk();
    this.client
      .publish({
        topicName: topic,
        payload,
        qos: options.qos === 1 ? mqtt5.QoS.AtLeastOnce : mqtt5.QoS.AtMostOnce,
      })
      .then(
        (result) => {
          const code = (result as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
          // A refusal carries its reason code as MQTT.js reports one: the same classification.
          callback?.(
            code >= 0x80 ? Object.assign(new Error(`PUBACK reason ${code}`), { code }) : undefined,
          );
        },
        (error: unknown) => callback?.(error instanceof Error ? error : new Error(String(error))),
      );
    return this;
  }

  subscribe(
    topics: string[],
    options: { qos: 0 | 1 },
    callback?: (error: Error | null) => void,
  ): this {
    const { mqtt5 } = loadSdk();
    this.client
      .subscribe({
        subscriptions: topics.map((topicFilter) => ({
          topicFilter,
          qos: options.qos === 1 ? mqtt5.QoS.AtLeastOnce : mqtt5.QoS.AtMostOnce,
        })),
      })
      .then(
        () => callback?.(null),
        (error: unknown) => callback?.(error instanceof Error ? error : new Error(String(error))),
      );
    return this;
  }

  end(): this {
    this.close();
    return this;
  }

  endAsync(): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.stop();
    // The native client is freed once stopped.
    this.client.once("stopped", () => this.client.close());
    this.emit("close");
  }
}

/**
 * A connection through the CRT, typed as the MQTT.js client the agent drives: it answers the
 * calls and events the agent uses (publish, subscribe, message, connect, error, close, end).
 */
export function connectCrt(url: string, options: IClientOptions): MqttClient {
  return new CrtConnection(new URL(url), options) as unknown as MqttClient;
}
