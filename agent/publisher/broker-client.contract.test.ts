import { readFileSync } from "node:fs";
import { arch } from "node:process";
import type { IClientOptions } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makePki, type TestPki } from "../../test/support/pki.js";
import { makeTempDir } from "../../test/support/tmp.js";
import { MosquittoBroker } from "../../test/support/mosquitto.js";
import { inCi, requireTool } from "../../test/support/tools.js";
import { waitFor } from "../../test/support/wait-for.js";
import type { BrokerClient, LinkEvents, OpenBrokerClient } from "./broker-client.js";
import { crtAvailable, openCrtClient } from "./crt-client.js";
import { openMqttJsClient } from "./mqttjs-client.js";

/**
 * The BrokerClient seam's promises, held for both adapters against one broker: Mosquitto over
 * mutual TLS on loopback, with the ACL an IoT policy would give (a gateway writes only its own
 * topics). Fast: no agent, no outbox; the transport contract (test/integration/
 * transport.contract.ts) runs the whole publisher over each. Not aedes: the CRT speaks MQTT 5
 * only and aedes 3.1.1 only, and a refused PUBACK needs MQTT 5's reason codes anyway.
 */
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const ADAPTERS: Record<"mqttjs" | "aws-crt", OpenBrokerClient | null> = {
  mqttjs: openMqttJsClient,
  "aws-crt": crtAvailable() ? openCrtClient : null,
};
if (!ADAPTERS["aws-crt"]) {
  if (inCi() && (arch === "x64" || arch === "arm64"))
    throw new Error(
      `aws-iot-device-sdk-v2 must load in CI on ${arch}: npm ci installs it (optional)`,
    );
  console.warn(`SKIPPED: aws-iot-device-sdk-v2 cannot load on ${arch}; its adapter is not held`);
}

let pki: TestPki;
let broker: MosquittoBroker | null = null;
let url = "";
const temp = makeTempDir("reefer-broker-client-");

beforeAll(async () => {
  if (mosquitto.skip) return;
  pki = makePki(temp.dir, ["gw-a", "gw-b", "gw-c"]);
  broker = await MosquittoBroker.start(mosquitto.path ?? "mosquitto", temp.dir, pki);
  url = `mqtts://127.0.0.1:${broker.port}`;
});

afterAll(async () => {
  await broker?.stop();
  temp.cleanup();
});

/** What the link told its owner, in order. */
function recorder(): LinkEvents & { readonly heard: string[]; readonly errors: Error[] } {
  const heard: string[] = [];
  const errors: Error[] = [];
  return {
    heard,
    errors,
    connected: () => heard.push("connected"),
    failed: (error) => {
      heard.push("failed");
      errors.push(error);
    },
    closed: () => heard.push("closed"),
  };
}

function options(name: string): IClientOptions {
  const identity = pki.client(name);
  return {
    clientId: name,
    protocolVersion: 5,
    clean: true,
    keepalive: 30,
    connectTimeout: 10_000,
    reconnectPeriod: 0,
    rejectUnauthorized: true,
    ca: readFileSync(pki.caCert),
    cert: readFileSync(identity.cert),
    key: readFileSync(identity.key),
  };
}

for (const [name, open] of Object.entries(ADAPTERS)) {
  describe.skipIf(!open || mosquitto.skip)(`BrokerClient contract: ${name}`, () => {
    const clients: BrokerClient[] = [];
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.end()));
    });

    async function connected(
      id: string,
    ): Promise<{ client: BrokerClient; events: ReturnType<typeof recorder> }> {
      const events = recorder();
      const client = (open as OpenBrokerClient)(url, options(id), events);
      clients.push(client);
      await waitFor(`${id} to connect`, () => events.heard.includes("connected"), 20_000, {
        detail: () => events.errors.map((e) => e.message).join("; "),
      });
      return { client, events };
    }

    it("connects over mutual TLS, subscribes, and hears a QoS 1 message it published, PUBACK first", async () => {
      const { client } = await connected("gw-a");
      const heard: { topic: string; payload: string }[] = [];
      const off = client.onMessage((topic, payload) =>
        heard.push({ topic, payload: payload.toString() }),
      );
      await new Promise<void>((resolve, reject) => {
        client.subscribe(["$aws/things/gw-a/shadow/contract/#"], 1, (error) =>
          error ? reject(error) : resolve(),
        );
      });
      const acked = await new Promise<Error | undefined>((resolve) => {
        client.publish("$aws/things/gw-a/shadow/contract/one", "hello", 1, resolve);
      });
      expect(acked).toBeUndefined();
      await waitFor("the message back", () => heard.length === 1, 10_000);
      expect(heard).toEqual([{ topic: "$aws/things/gw-a/shadow/contract/one", payload: "hello" }]);
      // A removed listener hears nothing more.
      off();
      await new Promise<Error | undefined>((resolve) => {
        client.publish("$aws/things/gw-a/shadow/contract/two", "again", 1, resolve);
      });
      client.publish("$aws/things/gw-a/shadow/contract/three", "marker", 0);
      const second = client.onMessage((topic) => heard.push({ topic, payload: "" }));
      await new Promise<Error | undefined>((resolve) => {
        client.publish("$aws/things/gw-a/shadow/contract/four", "last", 1, resolve);
      });
      await waitFor(
        "the last message",
        () => heard.some((h) => h.topic === "$aws/things/gw-a/shadow/contract/four"),
        10_000,
      );
      second();
      expect(heard.map((h) => h.topic)).not.toContain("$aws/things/gw-a/shadow/contract/two");
    });

    it("hands a refused publish's PUBACK reason to its callback as an Error with the code", async () => {
      const { client } = await connected("gw-c");
      // The ACL lets gw-c write only its own topics: another gateway's is refused (0x87).
      const refused = await new Promise<Error | undefined>((resolve) => {
        client.publish("dt/reefer/gw-a/C1/telemetry", "{}", 1, resolve);
      });
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error & { code?: unknown }).code).toBe(0x87);
    });

    it("tells its owner once that it closed when ended, and end is safe twice", async () => {
      const { client, events } = await connected("gw-b");
      await client.end();
      await client.end();
      await waitFor("the close", () => events.heard.includes("closed"), 10_000);
      expect(events.heard.filter((e) => e === "closed")).toHaveLength(1);
      expect(events.heard[0]).toBe("connected");
    });

    it("fails, then closes, when the broker refuses its certificate; never connects", async () => {
      const events = recorder();
      const rogue = {
        ...options("gw-a"),
        cert: readFileSync(pki.untrusted.cert),
        key: readFileSync(pki.untrusted.key),
      };
      const client = (open as OpenBrokerClient)(url, rogue, events);
      clients.push(client);
      await waitFor("the close", () => events.heard.includes("closed"), 20_000);
      expect(events.heard).not.toContain("connected");
    });
  });
}
