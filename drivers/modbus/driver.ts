import type { Measurement } from "../../core/record.js";
import type { Lease } from "../../core/shared-resources.js";
import type { Driver, DriverContext, DriverDefinition } from "../driver.js";
import { ModbusBus } from "./bus.js";
import { decodeRequest } from "./codec.js";
import {
  busKey,
  defaultInterFrameDelayMs,
  modbusRtuDriverConfig,
  modbusTcpDriverConfig,
  type ModbusDriverConfig,
} from "./config.js";
import { DeviceReadError } from "../read-error.js";
import { classify, ModbusRequestError } from "./errors.js";
import { loadProfile } from "./profile.js";
import { planRequests, type ReadRequest } from "./request-plan.js";
import { RtuTransport, TcpTransport } from "./transport.js";
import { checkSharedBuses, prepareModbusConfig, serialLineOf } from "./validation.js";

interface PlannedDevice {
  readonly unitId: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly requests: readonly ReadRequest[];
}

/**
 * A container read over Modbus: each of its devices' requests go through the shared bus of its
 * port, answers are decoded through the devices' profiles and merged. A request that fails
 * leaves its fields null (counted by the bus); the read fails only when nothing was read.
 */
class ModbusDriver implements Driver {
  private readonly devices: readonly PlannedDevice[];
  private lease: Lease<ModbusBus> | null = null;
  /** Fields whose sentinel was logged, so a dead probe is logged once, not every second. */
  private readonly loggedSentinels = new Set<string>();

  constructor(
    private readonly config: ModbusDriverConfig,
    private readonly context: DriverContext,
  ) {
    // The profiles were checked when the config was loaded; a file changed since fails here, at start.
    this.devices = config.devices.map((device) => ({
      unitId: device.unitId,
      timeoutMs: device.timeoutMs ?? config.timeoutMs,
      retries: device.retries ?? config.retries,
      requests: planRequests(loadProfile(device.profile, process.cwd())),
    }));
  }

  open(): Promise<void> {
    if (!this.lease) {
      this.lease = this.context.shared.acquire(busKey(this.config), () => this.createBus());
    }
    this.lease.value.start();
    return Promise.resolve();
  }

  async read(signal: AbortSignal): Promise<Measurement> {
    const bus = this.lease?.value;
    if (!bus) throw new Error("driver not open");
    const measurement: Measurement = {};
    let answered = 0;
    let firstError: Error | null = null;
    const silent: string[] = [];
    for (const device of this.devices) {
      let deviceAnswered = false;
      for (const request of device.requests) {
        if (signal.aborted)
          throw signal.reason instanceof Error ? signal.reason : new Error("read aborted");
        try {
          const answer = await bus.request(device.unitId, request, {
            timeoutMs: device.timeoutMs,
            retries: device.retries,
            signal,
          });
          const decoded = decodeRequest(request, answer);
          Object.assign(measurement, decoded.measurement);
          this.noteSentinels(device.unitId, decoded.faults);
          answered++;
          deviceAnswered = true;
        } catch (error) {
          firstError ??= error as Error;
          // The device is unreachable: its other requests would fail the same way.
          if (
            error instanceof ModbusRequestError &&
            (error.errorClass === "circuit_open" || error.errorClass === "port_gone")
          ) {
            break;
          }
          if ((error as Error).name === "AbortError") throw error;
        }
      }
      if (!deviceAnswered) silent.push(`${this.busName} unit ${device.unitId}`);
    }
    if (answered === 0) {
      const cause = classify(firstError ?? new Error("no request answered"));
      // The class of the first failure names it (crc, timeout...), as the HIL tests check.
      throw Object.assign(
        new DeviceReadError(cause.errorClass, silent, cause.message, { cause }),
        cause.exceptionCode === undefined ? {} : { exceptionCode: cause.exceptionCode },
      );
    }
    return measurement;
  }

  /** The port or host the devices are on, as the alert names them. */
  private get busName(): string {
    const { config } = this;
    return config.type === "modbus-rtu" ? config.port : `${config.host}:${config.port}`;
  }

  async close(): Promise<void> {
    const lease = this.lease;
    this.lease = null;
    await lease?.release();
  }

  private noteSentinels(unit: number, faults: readonly { field: string; raw: number }[]): void {
    const { metrics, logger, containerId } = this.context;
    for (const fault of faults) {
      metrics.increment("sensor_faults", 1, { container: containerId, field: fault.field });
      const key = `${unit}:${fault.field}`;
      if (!this.loggedSentinels.has(key)) {
        this.loggedSentinels.add(key);
        logger.warn(
          { unit, field: fault.field, raw: `0x${fault.raw.toString(16).toUpperCase()}` },
          "sensor reports a fault value: the field is null until it reads again",
        );
      }
    }
  }

  private createBus(): ModbusBus {
    const { config, context } = this;
    const common = {
      breaker: config.breaker,
      reopen: config.reopen,
      clock: context.clock,
      metrics: context.metrics,
      random: context.random,
    };
    if (config.type === "modbus-rtu") {
      const line = serialLineOf(config);
      return new ModbusBus({
        ...common,
        name: config.port,
        transport: new RtuTransport(line),
        interFrameDelayMs:
          config.interFrameDelayMs ??
          defaultInterFrameDelayMs(line.baudRate, line.parity, line.stopBits),
        logger: context.logger.child({ bus: config.port }),
      });
    }
    const name = `${config.host}:${config.port}`;
    return new ModbusBus({
      ...common,
      name,
      transport: new TcpTransport({
        host: config.host,
        port: config.port,
        connectTimeoutMs: config.connectTimeoutMs,
      }),
      interFrameDelayMs: config.interFrameDelayMs,
      logger: context.logger.child({ bus: name }),
    });
  }
}

export const modbusRtuDriver: DriverDefinition<typeof modbusRtuDriverConfig> = {
  configSchema: modbusRtuDriverConfig,
  create: (config, context) => new ModbusDriver(config, context),
  prepare: prepareModbusConfig,
  checkTogether: checkSharedBuses,
};

export const modbusTcpDriver: DriverDefinition<typeof modbusTcpDriverConfig> = {
  configSchema: modbusTcpDriverConfig,
  create: (config, context) => new ModbusDriver(config, context),
  prepare: prepareModbusConfig,
  checkTogether: checkSharedBuses,
};
