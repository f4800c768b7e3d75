import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Measurement } from "../../core/record.js";
import { loadProfile } from "../../drivers/modbus/profile.js";
import { ReeferModel } from "../../drivers/simulated/model.js";
import { useMosquitto } from "../support/broker-fixture.js";
import { startCli } from "../support/cli.js";
import { requireTool } from "../support/tools.js";
import { ModbusSlaveBus } from "./modbus-slave.js";
import { requireSocat } from "./rig.js";
import { SerialLink } from "./serial-link.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const socat = requireSocat();

describe.skipIf(mosquitto.skip || socat.skip)(
  "a 'hardware' reefer on the pty rig, read by the agent process, published to Mosquitto",
  () => {
    const env = useMosquitto(mosquitto.path ?? "", ["gw-hil"]);
    let link: SerialLink;
    let slave: ModbusSlaveBus;
    let feeder: NodeJS.Timeout | undefined;

    beforeAll(async () => {
      link = new SerialLink(socat.path ?? "socat", env.temp.dir);
      await link.plug();
      slave = new ModbusSlaveBus(link.devicePath);
      await slave.attach();
    });
    afterAll(async () => {
      clearInterval(feeder);
      await slave.detach();
      await link.unplug();
    });

    it("publishes exactly what the slaves serve, with the contract's fields", async () => {
      // Unit 1: an XY-MD02 in a cold store. Unit 5: a reefer controller running the
      // compressor-failure scenario at 600× speed, served through the template profile.
      slave.addUnit(1).setInputs(1, [0xff33, 0x021c]);
      const reefer = slave.addUnit(5);
      const template = loadProfile("reefer-controller-template", ".");
      const model = new ReeferModel({
        scenario: "temperature-rising",
        seed: 3,
        setpoint: 4,
        targetHumidity: 40,
        ambientTemperature: 30,
        scenarioOnsetSeconds: 0,
        defrostIntervalHours: 6,
        defrostMinutes: 20,
        doorOpeningsPerDay: 0,
        track: { latitude: 51.9, longitude: 4.1, headingDegrees: 90, speedKnots: 16 },
      });
      const served: Measurement[] = [];
      const feed = () => {
        model.advance(60);
        const m = model.sample();
        served.push(m);
        reefer.serve(template, m);
      };
      feed();
      feeder = setInterval(feed, 100);

      const { cert, key } = env.pki.client("gw-hil");
      const file = join(env.temp.dir, "hil.yaml");
      writeFileSync(
        file,
        `version: 1
gateway: { id: gw-hil }
mqtt: { url: "${env.broker.url}", ca: "${env.pki.caCert}", cert: "${cert}", key: "${key}" }
buffer: { path: "${join(env.temp.dir, "hil-outbox.db")}" }
sampling: { intervalMs: 250 }
containers:
  - id: COLDSTORE1
    product: P01
    driver:
      type: modbus-rtu
      port: ${link.gatewayPath}
      timeoutMs: 100
      devices: [{ unitId: 1, profile: xy-md02 }]
  - id: REEFER5
    product: P01
    driver:
      type: modbus-rtu
      port: ${link.gatewayPath}
      timeoutMs: 100
      devices: [{ unitId: 5, profile: reefer-controller-template }]
`,
      );
      const agent = startCli(["run", "--config", file]);
      try {
        await env.monitor.waitFor(
          () => env.monitor.seqs("COLDSTORE1").size >= 5 && env.monitor.seqs("REEFER5").size >= 5,
          "5 readings of each Modbus container",
        );
      } finally {
        agent.child.kill("SIGTERM");
      }
      expect(await agent.exited).toBe(0);

      const cold = env.monitor.readings.filter((r) => r.reading.container_id === "COLDSTORE1");
      for (const { reading, topic } of cold) {
        expect(topic).toMatch(/^dt\/reefer\/gw-hil\/COLDSTORE1\/(telemetry|backfill)$/);
        expect(reading).toMatchObject({
          temperature: -20.5,
          humidity_level: 54,
          kilowatts: null,
          fan_1: null,
          gateway_id: "gw-hil",
          product_id: "P01",
          clock: "synced",
        });
      }
      // Every reefer reading is one the controller served: no value was made up or mixed.
      const servedTemperatures = new Set(served.map((m) => m.temperature));
      const reeferReadings = env.monitor.readings.filter(
        (r) => r.reading.container_id === "REEFER5",
      );
      for (const { reading } of reeferReadings) {
        expect(servedTemperatures.has(reading.temperature)).toBe(true);
        expect(reading.kilowatts).not.toBeNull();
        expect(typeof reading.fan_1).toBe("boolean");
        expect(reading.latitude).toBeCloseTo(51.9, 0);
      }
      expect(env.monitor.duplicates).toBe(0);
    }, 60_000);
  },
);
