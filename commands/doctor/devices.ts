import pino from "pino";
import type { AgentConfig } from "../../config/schema.js";
import { describeReadFailure } from "../../drivers/read-error.js";
import { createDriver } from "../../drivers/registry.js";
import { systemClock } from "../../core/clock.js";
import { Metrics } from "../../core/metrics.js";
import { productCatalogue } from "../../core/products.js";
import { SharedResources } from "../../core/shared-resources.js";
import { fail, pass, skip, type Verdict } from "./verdict.js";

const FIX_BY_CLASS: Record<string, string> = {
  timeout:
    "no answer: in order of likelihood A and B swapped, a wrong unitId, wrong parity or baud, no common ground",
  crc: "answers arrive garbled: noise, or the bus lacks its 120 ohm termination at both ends",
  framing: "answers of the wrong shape: two masters on the bus, or a confused slave",
  exception: "the device refused a register: check its profile against the device's manual",
  port_gone: "the port vanished: is the adapter plugged in?",
};

/** One real read of each Modbus container, as the agent would do it. */
export async function checkDevices(
  config: AgentConfig,
  agentRunning: boolean,
  timeoutMs: number,
): Promise<Verdict[]> {
  const modbus = config.containers.filter((c) => c.driver.type !== "simulated");
  if (modbus.length === 0) return [skip("devices", "no Modbus container")];
  if (agentRunning)
    return [
      skip("devices", "the running agent holds the ports; its log and /metrics show its reads"),
    ];
  const shared = new SharedResources();
  const products = productCatalogue(config.products);
  const verdicts: Verdict[] = [];
  for (const container of modbus) {
    const check = `read ${container.id}`;
    const product = products.get(container.product);
    if (!product) continue; // validated with the config
    const driver = createDriver(container.driver, {
      containerId: container.id,
      product,
      clock: systemClock,
      logger: pino({ level: "silent" }),
      metrics: new Metrics(),
      shared,
      random: Math.random,
    });
    try {
      await driver.open();
      const measurement = await driver.read(AbortSignal.timeout(timeoutMs));
      const fields = Object.entries(measurement)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => `${k} ${String(v)}`);
      verdicts.push(
        pass(check, fields.length > 0 ? fields.join(", ") : "answered, every field null"),
      );
    } catch (error) {
      const { errorClass, devices } = describeReadFailure(error);
      verdicts.push(
        fail(
          check,
          `${devices.length > 0 ? devices.join(", ") : "the device"} did not answer (${errorClass}): ${(error as Error).message}`,
          FIX_BY_CLASS[errorClass] ?? "check the driver settings of this container",
        ),
      );
    } finally {
      await driver.close();
    }
  }
  return verdicts;
}
