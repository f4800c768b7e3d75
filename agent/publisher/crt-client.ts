import { ConfigError } from "../../config/load.js";
import { createRequire } from "node:module";
import type { IClientOptions } from "mqtt";
import type { BrokerClient, LinkEvents } from "./broker-client.js";
import { withConnackCode } from "./errors.js";
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
 * aws-iot-device-sdk-v2's MQTT 5 client (the AWS CRT, native) behind the BrokerClient seam, so
 * the publisher, its reconnect policy and the shadows run on it unchanged. Written by hand
 * because no library adapts it to a small interface of our own. Like the agent's MQTT.js
 * clients it lives for one connection: the CRT's own reconnect is pushed out of the way (the
 * agent's full-jitter policy decides), its offline queue fails on a disconnect (the outbox keeps
 * the rows), and its AWS IoT flow control (100 publishes a second) is off: the agent's own rate
 * limits (`publish.*`) govern, as they do for MQTT.js.
 */
class CrtConnection implements BrokerClient {
  private readonly client: Mqtt5.Mqtt5Client;
  private readonly listeners = new Set<(topic: string, payload: Buffer) => void>();
  private closed = false;

  constructor(
    url: URL,
    options: IClientOptions,
    private readonly events: LinkEvents,
  ) {
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
    this.client.on("connectionSuccess", () => {
      events.connected();
    });
    this.client.on("connectionFailure", (event) => {
      events.failed(withConnackCode(asError(event.error), event.connack?.reasonCode));
      this.close();
    });
    this.client.on("disconnection", (event) => {
      events.failed(asError(event.error));
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
      for (const listener of this.listeners) listener(event.message.topicName, bytes);
    });
    this.client.start();
  }

  publish(topic: string, payload: string, qos: 0 | 1, callback?: (error?: Error) => void): void {
    const { mqtt5 } = loadSdk();
    this.client
      .publish({
        topicName: topic,
        payload,
        qos: qos === 1 ? mqtt5.QoS.AtLeastOnce : mqtt5.QoS.AtMostOnce,
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
  }

  subscribe(topics: readonly string[], qos: 0 | 1, callback: (error: Error | null) => void): void {
    const { mqtt5 } = loadSdk();
    this.client
      .subscribe({
        subscriptions: topics.map((topicFilter) => ({
          topicFilter,
          qos: qos === 1 ? mqtt5.QoS.AtLeastOnce : mqtt5.QoS.AtMostOnce,
        })),
      })
      .then(
        () => {
          callback(null);
        },
        (error: unknown) => {
          callback(error instanceof Error ? error : new Error(String(error)));
        },
      );
  }

  onMessage(listener: (topic: string, payload: Buffer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  end(): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.stop();
    // The native client is freed once stopped.
    this.client.once("stopped", () => {
      this.client.close();
    });
    this.events.closed();
  }
}

/**
 * The CRT types its failures as ICrtError, which need not be an Error; at run time they are
 * CrtError (an Error). A plain object becomes one that keeps its error name for the classifier.
 */
function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  const name = (error as { error_name?: string } | undefined)?.error_name ?? "unknown CRT error";
  return Object.assign(new Error(name), error);
}

/** One connection through the CRT behind the BrokerClient seam. */
export function openCrtClient(
  url: string,
  options: IClientOptions,
  events: LinkEvents,
): BrokerClient {
  return new CrtConnection(new URL(url), options, events);
}
