import { readFileSync } from "node:fs";
import {
  GetThingShadowCommand,
  IoTDataPlaneClient,
  ResourceNotFoundException,
  UpdateThingShadowCommand,
} from "@aws-sdk/client-iot-data-plane";
import mqtt, { type MqttClient } from "mqtt";
import type { Identity } from "./pki.js";

const REQUEST = /^\$aws\/things\/([^/]+)\/shadow\/name\/([^/]+)\/(get|update)$/;

interface ShadowDocument {
  state?: { desired?: unknown; reported?: unknown; delta?: unknown };
  version?: number;
  timestamp?: number;
  metadata?: unknown;
}

/**
 * AWS IoT's device shadow service over MQTT, for tests: a bridge from the shadow topics on
 * Mosquitto to moto's IoT data plane, so the documents, their versions, deltas and version
 * conflicts are a third party's (moto's), not ours. It answers `get` and `update` on the
 * accepted and rejected topics, publishes `update/delta` and `update/documents` after an update,
 * and watches the shadows it has seen so that an update made through the HTTP API (an operator's
 * command) reaches the device as a delta, as AWS does.
 */
export class ShadowService {
  private readonly versions = new Map<string, number>();
  /**
   * The desired state each device was last told of (a get, or a delta): a delta goes out when the
   * document's desired state differs from it, whoever changed it (the device's MQTT update or the
   * operator's HTTP call, which this stand-in learns of by polling).
   */
  private readonly desired = new Map<string, string>();
  private readonly watch: NodeJS.Timeout;
  private polling = false;

  private constructor(
    private readonly client: MqttClient,
    private readonly data: IoTDataPlaneClient,
  ) {
    client.on("message", (topic, payload) => {
      // A request still being answered when the test stops the service ends with it.
      this.handle(topic, payload).catch((error: unknown) => {
        if (!this.stopped) throw error;
      });
    });
    this.watch = setInterval(() => {
      this.poll().catch((error: unknown) => {
        if (!this.stopped) throw error;
      });
    }, 200);
  }

  static async start(options: {
    brokerUrl: string;
    ca: string;
    /** A client the broker's ACL lets read and write every thing's shadow topics. */
    identity: Identity;
    data: IoTDataPlaneClient;
  }): Promise<ShadowService> {
    const client = await mqtt.connectAsync(options.brokerUrl, {
      ca: readFileSync(options.ca),
      cert: readFileSync(options.identity.cert),
      key: readFileSync(options.identity.key),
      clientId: `shadow-service-${process.pid}`,
      protocolVersion: 4,
      reconnectPeriod: 500,
    });
    await client.subscribeAsync(
      ["$aws/things/+/shadow/name/+/get", "$aws/things/+/shadow/name/+/update"],
      { qos: 1 },
    );
    return new ShadowService(client, options.data);
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watch);
    await this.client.endAsync();
  }

  /** Follows a shadow made through the HTTP API before its device asked for it. */
  watchShadow(thing: string, shadow: string): void {
    if (!this.versions.has(`${thing}/${shadow}`)) this.versions.set(`${thing}/${shadow}`, 0);
  }

  private async handle(topic: string, payload: Buffer): Promise<void> {
    const match = REQUEST.exec(topic);
    if (!match) return;
    const [, thing = "", shadow = "", operation] = match;
    const base = `$aws/things/${thing}/shadow/name/${shadow}`;
    let clientToken: string | undefined;
    if (operation === "get") {
      try {
        const document = await this.document(thing, shadow);
        this.versions.set(`${thing}/${shadow}`, document.version ?? 0);
        this.desired.set(`${thing}/${shadow}`, JSON.stringify(document.state?.desired ?? null));
        await this.publish(`${base}/get/accepted`, document);
      } catch (error) {
        await this.publish(`${base}/get/rejected`, rejection(error));
      }
      return;
    }
    try {
      const request = JSON.parse(payload.toString()) as {
        clientToken?: string;
        state?: { desired?: unknown };
      };
      clientToken = request.clientToken;
      const before = await this.document(thing, shadow).catch(() => null);
      const response = await this.data.send(
        new UpdateThingShadowCommand({ thingName: thing, shadowName: shadow, payload }),
      );
      const accepted = JSON.parse(Buffer.from(response.payload ?? []).toString()) as ShadowDocument;
      await this.publish(`${base}/update/accepted`, { ...accepted, clientToken });
      const after = await this.document(thing, shadow);
      this.versions.set(`${thing}/${shadow}`, after.version ?? 0);
      await this.publish(`${base}/update/documents`, {
        previous: before,
        current: after,
        timestamp: after.timestamp,
      });
      await this.announce(`${thing}/${shadow}`, base, after);
    } catch (error) {
      await this.publish(`${base}/update/rejected`, { ...rejection(error), clientToken });
    }
  }

  /** An update made outside MQTT (the operator's UpdateThingShadow) reaches the device. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const [key, version] of this.versions) {
        const [thing = "", shadow = ""] = key.split("/");
        const document = await this.document(thing, shadow).catch(() => null);
        if (!document || (document.version ?? 0) <= version) continue;
        this.versions.set(key, document.version ?? 0);
        const base = `$aws/things/${thing}/shadow/name/${shadow}`;
        await this.publish(`${base}/update/documents`, {
          current: document,
          timestamp: document.timestamp,
        });
        await this.announce(key, base, document);
      }
    } finally {
      this.polling = false;
    }
  }

  /** A delta, as AWS sends one: when the desired state changed and differs from the reported. */
  private async announce(key: string, base: string, document: ShadowDocument): Promise<void> {
    const desired = JSON.stringify(document.state?.desired ?? null);
    if (desired === this.desired.get(key)) return;
    this.desired.set(key, desired);
    if (document.state?.delta !== undefined) await this.publishDelta(base, document);
  }

  private async publishDelta(base: string, document: ShadowDocument): Promise<void> {
    await this.publish(`${base}/update/delta`, {
      state: document.state?.delta,
      version: document.version,
      timestamp: document.timestamp,
    });
  }

  private async document(thing: string, shadow: string): Promise<ShadowDocument> {
    const response = await this.data.send(
      new GetThingShadowCommand({ thingName: thing, shadowName: shadow }),
    );
    return JSON.parse(Buffer.from(response.payload ?? []).toString()) as ShadowDocument;
  }

  private async publish(topic: string, body: unknown): Promise<void> {
    await this.client.publishAsync(topic, JSON.stringify(body), { qos: 1 });
  }
}

/** AWS's rejection body: a code and a message. */
function rejection(error: unknown): { code: number; message: string } {
  if (error instanceof SyntaxError) return { code: 400, message: "Payload contains invalid json" };
  if (error instanceof ResourceNotFoundException) return { code: 404, message: "No shadow exists" };
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return { code: status ?? 500, message: (error as Error).message };
}
