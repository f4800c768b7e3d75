import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";
import type { Identity } from "./pki.js";

const CSR = "$aws/certificates/create-from-csr/json";
const PROVISION = /^\$aws\/provisioning-templates\/([^/]+)\/provision\/json$/;

/**
 * AWS IoT's fleet provisioning MQTT API, for tests: CreateCertificateFromCsr signed by the
 * test's CA with openssl (not the library that made the CSR), and RegisterThing by one template
 * (`gw-<SerialNumber>`, as deploy/aws's). The certificate's CN is the thing name, because the
 * test broker takes the CN as the client's identity where AWS IoT takes the certificate's thing.
 * `silent` makes it swallow one kind of request, as a lost link would.
 */
export class ProvisioningService {
  /** Ownership tokens issued, and the CSR's subject each was for. */
  private readonly tokens = new Map<string, string>();
  readonly things = new Set<string>();
  /** Each thing's attributes as the template sets them (`serial`, `checkpoint_key`). */
  readonly attributes = new Map<string, Record<string, string>>();
  readonly certificates: string[] = [];
  silent: "csr" | "provision" | null = null;

  private constructor(
    private readonly client: MqttClient,
    private readonly ca: { cert: string; key: string },
    private readonly template: string,
  ) {
    client.on("message", (topic, payload) => {
      // A request still being answered when the test stops the service ends with it.
      this.handle(topic, payload).catch((error: unknown) => {
        if (!this.stopped) throw error;
      });
    });
  }

  static async start(options: {
    brokerUrl: string;
    ca: { cert: string; key: string };
    identity: Identity;
    template: string;
  }): Promise<ProvisioningService> {
    const client = await mqtt.connectAsync(options.brokerUrl, {
      ca: readFileSync(options.ca.cert),
      cert: readFileSync(options.identity.cert),
      key: readFileSync(options.identity.key),
      clientId: `provisioning-service-${process.pid}`,
      protocolVersion: 4,
    });
    await client.subscribeAsync([CSR, "$aws/provisioning-templates/+/provision/json"], { qos: 1 });
    return new ProvisioningService(client, options.ca, options.template);
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client.endAsync();
  }

  private async handle(topic: string, payload: Buffer): Promise<void> {
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(payload.toString()) as Record<string, unknown>;
    } catch {
      await this.reply(`${topic}/rejected`, {
        statusCode: 400,
        errorCode: "InvalidPayload",
        errorMessage: "not JSON",
      });
      return;
    }
    if (topic === CSR) {
      if (this.silent === "csr") return;
      const csr = request.certificateSigningRequest;
      if (typeof csr !== "string") {
        await this.reply(`${CSR}/rejected`, {
          statusCode: 400,
          errorCode: "InvalidPayload",
          errorMessage: "no CSR",
        });
        return;
      }
      const dir = mkdtempSync(join(tmpdir(), "provisioning-"));
      try {
        writeFileSync(join(dir, "request.csr"), csr);
        const subject = execFileSync(
          "openssl",
          ["req", "-in", "request.csr", "-noout", "-subject"],
          {
            cwd: dir,
            encoding: "utf8",
          },
        );
        const serial = /CN\s*=\s*([^,\s]+)/.exec(subject)?.[1] ?? "";
        execFileSync(
          "openssl",
          [
            "x509",
            "-req",
            "-in",
            "request.csr",
            "-CA",
            this.ca.cert,
            "-CAkey",
            this.ca.key,
            "-CAcreateserial",
            "-days",
            "2",
            "-sha256",
            "-subj",
            `/CN=gw-${serial}`,
            "-out",
            "issued.pem",
          ],
          { cwd: dir, stdio: ["ignore", "ignore", "pipe"] },
        );
        const token = randomUUID();
        this.tokens.set(token, serial);
        const certificateId = randomUUID().replace(/-/g, "");
        this.certificates.push(certificateId);
        await this.reply(`${CSR}/accepted`, {
          certificateId,
          certificatePem: readFileSync(join(dir, "issued.pem"), "utf8"),
          certificateOwnershipToken: token,
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return;
    }
    const template = PROVISION.exec(topic)?.[1];
    if (template === undefined) return;
    if (this.silent === "provision") return;
    const token = request.certificateOwnershipToken;
    const serial = (request.parameters as { SerialNumber?: unknown } | undefined)?.SerialNumber;
    if (template !== this.template) {
      await this.reply(`${topic}/rejected`, {
        statusCode: 404,
        errorCode: "ResourceNotFound",
        errorMessage: `no template ${template}`,
      });
    } else if (typeof token !== "string" || !this.tokens.has(token) || typeof serial !== "string") {
      await this.reply(`${topic}/rejected`, {
        statusCode: 400,
        errorCode: "InvalidCertificateOwnershipToken",
        errorMessage: "bad token or parameters",
      });
    } else {
      const thingName = `gw-${serial}`;
      this.things.add(thingName);
      const key = (request.parameters as { CheckpointKey?: unknown }).CheckpointKey;
      this.attributes.set(thingName, {
        serial,
        ...(typeof key === "string" && { checkpoint_key: key }),
      });
      await this.reply(`${topic}/accepted`, { thingName, deviceConfiguration: {} });
    }
  }

  private async reply(topic: string, body: unknown): Promise<void> {
    await this.client.publishAsync(topic, JSON.stringify(body), { qos: 1 });
  }
}
