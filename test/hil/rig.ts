import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { Metrics } from "../../core/metrics.js";
import { SharedResources } from "../../core/shared-resources.js";
import type { Driver } from "../../drivers/driver.js";
import type { ModbusRtuDriverConfig } from "../../drivers/modbus/config.js";
import { makeTempDir } from "../support/tmp.js";
import { requireTool } from "../support/tools.js";
import { modbusDriver } from "./modbus-driver.js";
import { ModbusSlaveBus } from "./modbus-slave.js";
import { SerialLink } from "./serial-link.js";

/**
 * The hardware-in-the-loop rig: a socat pty pair as the RS-485 line, a jsmodbus slave bus on the
 * device end, and drivers of the agent on the gateway end, sharing one agent's resources.
 */
export class Rig {
  readonly metrics = new Metrics();
  readonly shared = new SharedResources();
  readonly slave: ModbusSlaveBus;
  private readonly drivers: Driver[] = [];

  private constructor(
    readonly link: SerialLink,
    private readonly temp: { dir: string; cleanup: () => void },
  ) {
    this.slave = new ModbusSlaveBus(link.devicePath);
  }

  static async start(socat: string): Promise<Rig> {
    const temp = makeTempDir("reefer-edge-hil-");
    const rig = new Rig(new SerialLink(socat, temp.dir), temp);
    await rig.link.plug();
    await rig.slave.attach();
    return rig;
  }

  /** The rig's own temporary folder (removed by `stop`). */
  get folder(): string {
    return this.temp.dir;
  }

  /** A driver on the rig's line, configured as a user would (the config then goes through prepare). */
  driver(
    containerId: string,
    config: Partial<ModbusRtuDriverConfig> & { devices: unknown[] },
  ): Driver {
    const driver = modbusDriver(
      {
        type: "modbus-rtu",
        port: this.link.gatewayPath,
        timeoutMs: 150,
        retries: 0,
        reopen: { initialDelayMs: 100, maxDelayMs: 500 },
        ...config,
      },
      this.temp.dir,
      {
        containerId,
        metrics: this.metrics,
        shared: this.shared,
        logger: pino({ level: process.env.HIL_LOG ?? "silent" }),
      },
    );
    this.drivers.push(driver);
    return driver;
  }

  /** Writes a profile file into the rig's folder and returns its path. */
  writeProfile(name: string, yaml: string): string {
    const file = join(this.temp.dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    return file;
  }

  async unplug(): Promise<void> {
    await this.link.unplug();
    await this.slave.detach();
  }

  async replug(): Promise<void> {
    await this.link.plug();
    await this.slave.attach();
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.drivers.map((d) => d.close()));
    await this.slave.detach();
    await this.link.unplug();
    this.temp.cleanup();
  }
}

/** socat for the pty pair: required in CI, a printed skip on a laptop without it. */
export function requireSocat(): { path: string | null; skip: boolean } {
  return requireTool("socat", "apt-get install -y socat");
}
