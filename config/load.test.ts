import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/support/tmp.js";
import { configJsonSchema, configReference, fleetJsonSchema } from "./docs.js";
import { ConfigError, loadConfigFile, parseConfigText } from "./load.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const MINIMAL = `
version: 1
gateway: { id: gw-0001 }
mqtt: { url: "mqtts://broker.example:8883" }
containers:
  - id: C01
    product: P02
    driver: { type: simulated }
`;

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, "test.yaml", env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

let temp: ReturnType<typeof makeTempDir>;
beforeEach(() => {
  temp = makeTempDir();
});
afterEach(() => {
  temp.cleanup();
});

describe("config", () => {
  it("fills the documented defaults", () => {
    const config = parseConfigText(MINIMAL, join(temp.dir, "agent.yaml"));
    expect(config.buffer).toEqual({
      path: join(temp.dir, "data/outbox.db"),
      maxBytes: 256 * 1024 * 1024,
      cacheKiB: 4000,
      reserveKiB: 512,
      durability: "full",
      writeBehindSeconds: 0,
      whenStorageFails: { memoryRows: 10_000, clearAfterSeconds: 60, retryMaxSeconds: 30 },
    });
    expect(config.sampling.intervalMs).toBe(60_000);
    expect(config.mqtt).toMatchObject({
      protocolVersion: 5,
      maxInflight: 100,
      alpn: false,
      allowInsecure: false,
    });
    expect(config.containers[0]?.driver).toMatchObject({
      type: "simulated",
      scenario: "normal",
      seed: 1,
    });
  });

  it("reports every problem with its path and reason, not just the first", () => {
    const text = `
version: 2
gateway: { id: "gw 1" }
mqtt: { url: "mqtt://broker.example.com:1883", keepaliveSeconds: 2 }
buffer: { maxBytes: lots }
sampling: { intervalMs: 1000, timeoutMs: 1000 }
containers:
  - id: C01
    product: P09
    driver: { type: simulated, scenario: exploded }
  - id: C01
    product: P01
    driver: { type: modbus-carrier }
`;
    const found = problems(text);
    const expected = [
      /^version: /,
      /^gateway\.id: expected an AWS IoT thing name/,
      /^mqtt\.keepaliveSeconds: .*>=5/,
      /^buffer\.maxBytes: expected a size like "256MiB", got "lots"/,
      /^containers\[0\]\.driver\.scenario: .*"normal"/,
      /^containers\[1\]\.driver\.type: /,
    ];
    for (const pattern of expected)
      expect(
        found.some((p) => pattern.test(p)),
        `${pattern} in\n${found.join("\n")}`,
      ).toBe(true);
  });

  it("checks what spans fields once the shape is right", () => {
    const text = `
version: 1
gateway: { id: gw-0001 }
mqtt: { url: "mqtt://broker.example.com:1883" }
sampling: { intervalMs: 1000, timeoutMs: 1000 }
containers:
  - { id: C01, product: P09, driver: { type: simulated } }
  - { id: C01, product: P01, driver: { type: simulated } }
`;
    expect(problems(text)).toEqual([
      'containers[0].product: unknown product "P09"; known: P01, P02, P03, P04, P05, P06',
      "sampling.timeoutMs: must be below the sampling interval of containers[0] (1000 ms)",
      'containers[1].id: duplicate container id "C01" (also containers[0])',
      "sampling.timeoutMs: must be below the sampling interval of containers[1] (1000 ms)",
      "mqtt.url: plaintext MQTT to broker.example.com, which is not loopback: use mqtts:// or set mqtt.allowInsecure: true",
    ]);
  });

  it("refuses bad rules with the path and reason", () => {
    const text = `${MINIMAL}rules:
  window: { seconds: -60 }
  temperature: { threshold: "hot", products: { P09: 8 } }
  atmosphere: { minOxygen: 40 }
`;
    const found = problems(text);
    for (const pattern of [
      /^rules\.window\.seconds: Too small: expected number to be >=1/,
      /^rules\.temperature\.threshold: Invalid input: expected number, received string/,
      /^rules\.atmosphere\.minOxygen: Too big/,
    ]) {
      expect(
        found.some((p) => pattern.test(p)),
        `${pattern} in\n${found.join("\n")}`,
      ).toBe(true);
    }
    const unknownProduct = `${MINIMAL}rules: { temperature: { products: { P09: 8 } } }\n`;
    expect(problems(unknownProduct)).toEqual([
      'rules.temperature.products.P09: unknown product "P09"; known: P01, P02, P03, P04, P05, P06',
    ]);
  });

  it("allows plaintext to loopback, and elsewhere only when explicitly allowed", () => {
    const plain = (url: string, extra = "") =>
      MINIMAL.replace('{ url: "mqtts://broker.example:8883" }', `{ url: "${url}"${extra} }`);
    expect(problems(plain("mqtt://127.0.0.1:1883"))).toEqual([]);
    expect(problems(plain("mqtt://localhost:1883"))).toEqual([]);
    expect(problems(plain("mqtt://10.0.0.5:1883"))).toHaveLength(1);
    expect(problems(plain("mqtt://10.0.0.5:1883", ", allowInsecure: true"))).toEqual([]);
  });

  it("accepts products added in config", () => {
    const text =
      MINIMAL.replace("product: P02", "product: X01") +
      "products: [{ id: X01, name: kiwi, targetTemperature: 0, targetHumidity: 90 }]\n";
    expect(problems(text)).toEqual([]);
  });

  it("applies environment overrides with their types, into lists too", () => {
    const config = parseConfigText(MINIMAL, "x.yaml", {
      REEFER_EDGE__MQTT__KEEPALIVE_SECONDS: "300",
      REEFER_EDGE__MQTT__ALPN: "true",
      REEFER_EDGE__CONTAINERS__0__PRODUCT: "P05",
      REEFER_EDGE__BUFFER__MAX_BYTES: "1GiB",
      UNRELATED: "x",
    });
    expect(config.mqtt.keepaliveSeconds).toBe(300);
    expect(config.mqtt.alpn).toBe(true);
    expect(config.containers[0]?.product).toBe("P05");
    expect(config.buffer.maxBytes).toBe(1024 ** 3);
    expect(problems(MINIMAL, { REEFER_EDGE__MQTT__KEEPALIVE_SECONDS: "soon" })).toEqual([
      "mqtt.keepaliveSeconds: Invalid input: expected number, received string",
    ]);
  });

  it("names a YAML syntax error and an unreadable file", () => {
    expect(problems("version: 1\ngateway: { id: [\n")[0]).toMatch(/^: YAML: /);
    expect(() => loadConfigFile(join(temp.dir, "missing.yaml"))).toThrow(/cannot read/);
  });

  it("resolves file paths relative to the config file", () => {
    const file = join(temp.dir, "agent.yaml");
    writeFileSync(
      file,
      MINIMAL.replace(
        '{ url: "mqtts://broker.example:8883" }',
        '{ url: "mqtts://b:8883", ca: certs/ca.pem, cert: /abs/c.pem, key: k.key }',
      ),
    );
    chmodSync(file, 0o600);
    const config = loadConfigFile(file);
    expect(config.mqtt.ca).toBe(join(temp.dir, "certs/ca.pem"));
    expect(config.mqtt.cert).toBe("/abs/c.pem");
    expect(config.mqtt.key).toBe(join(temp.dir, "k.key"));
  });

  it("ships examples that validate", () => {
    const examples = readdirSync(join(here, "examples")).filter((f) => f.endsWith(".yaml"));
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const example of examples)
      expect(() => loadConfigFile(join(here, "examples", example))).not.toThrow();
  });

  it("has an up-to-date JSON Schema and reference (run `npm run config:docs` when this fails)", () => {
    expect(JSON.parse(readFileSync(join(here, "schema.json"), "utf8"))).toEqual(configJsonSchema());
    expect(JSON.parse(readFileSync(join(here, "fleet-schema.json"), "utf8"))).toEqual(
      fleetJsonSchema(),
    );
    expect(readFileSync(join(here, "REFERENCE.md"), "utf8")).toBe(configReference());
  });
});
