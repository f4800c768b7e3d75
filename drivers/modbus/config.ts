import { z } from "zod";

const breakerSchema = z
  .strictObject({
    failuresToOpen: z
      .int()
      .min(1)
      .default(3)
      .describe("Failed polls in a row (after retries) that stop the bus polling a slave."),
    probeAfterMs: z
      .int()
      .min(100)
      .default(5000)
      .describe(
        "Wait before the first probe of a slave whose circuit opened; doubles per failed probe.",
      ),
    maxProbeAfterMs: z.int().min(100).default(300_000).describe("Ceiling of that wait."),
  })
  .prefault({})
  .describe(
    "Per-slave circuit breaker: a dead slave costs a full timeout per request, bus time the live slaves need.",
  );

const reopenSchema = z
  .strictObject({
    initialDelayMs: z.int().min(10).default(1000),
    maxDelayMs: z.int().min(100).default(30_000),
  })
  .prefault({})
  .describe("Reopening a lost port or connection: exponential backoff with full jitter.");

const deviceSchema = z.strictObject({
  unitId: z.int().min(0).max(255).describe("Modbus unit (slave) id: 1-247 on a serial bus."),
  profile: z
    .string()
    .min(1)
    .describe(
      "A built-in register profile (xy-md02, reefer-controller-template) or the path of a profile YAML file, relative to the config file.",
    ),
  timeoutMs: z
    .int()
    .min(10)
    .max(10_000)
    .optional()
    .describe("This slave's answer timeout; default: the driver's timeoutMs."),
  retries: z
    .int()
    .min(0)
    .max(5)
    .optional()
    .describe("This slave's retries; default: the driver's."),
});

const devicesSchema = z
  .array(deviceSchema)
  .min(1)
  .describe(
    "The Modbus devices that make up this container's readings (a controller, or add-on sensors); their fields are merged, each field from one device.",
  );

const timingFields = {
  timeoutMs: z
    .int()
    .min(10)
    .max(10_000)
    .default(500)
    .describe("How long to wait for a slave's answer, per request."),
  retries: z
    .int()
    .min(0)
    .max(5)
    .default(1)
    .describe("Retries of a request after a timeout, a bad CRC or a garbled frame."),
  breaker: breakerSchema,
  reopen: reopenSchema,
};

export const modbusRtuDriverConfig = z.strictObject({
  type: z.literal("modbus-rtu"),
  port: z
    .string({
      error:
        "required: the RS-485 adapter's serial port, e.g. /dev/serial/by-id/usb-FTDI_..._port0",
    })
    .min(1)
    .describe(
      "Serial port of the RS-485 adapter. Use its /dev/serial/by-id/... path (see `reefer-edge ports`): /dev/ttyUSB0 numbering follows plug order and can change on a re-enumeration, the by-id path names the adapter itself.",
    ),
  baudRate: z
    .int()
    .positive()
    .optional()
    .describe("Default: the first device's profile (xy-md02: 9600), else 9600."),
  parity: z
    .enum(["none", "even", "odd"])
    .optional()
    .describe("Default: from the profile, else none. Some XY-MD02 batches ship with even parity."),
  dataBits: z
    .union([z.literal(7), z.literal(8)])
    .optional()
    .describe("Default: profile, else 8."),
  stopBits: z
    .union([z.literal(1), z.literal(2)])
    .optional()
    .describe("Default: profile, else 1."),
  interFrameDelayMs: z
    .number()
    .min(0)
    .max(1000)
    .optional()
    .describe(
      "Silence between the end of one transaction and the next request. Default: the Modbus spec's 3.5 character times at the baud rate, at least 2 ms.",
    ),
  devices: devicesSchema,
  ...timingFields,
});

export const modbusTcpDriverConfig = z.strictObject({
  type: z.literal("modbus-tcp"),
  host: z
    .string({ error: "required: the address of the Modbus TCP device or gateway" })
    .min(1)
    .describe("Address of the controller or RS-485-to-TCP gateway."),
  port: z.int().min(1).max(65_535).default(502),
  connectTimeoutMs: z.int().min(100).default(5000),
  interFrameDelayMs: z
    .number()
    .min(0)
    .max(1000)
    .default(0)
    .describe("Pause between requests; a serial gateway may need its line's silence here."),
  devices: devicesSchema,
  ...timingFields,
});

export type ModbusRtuDriverConfig = z.output<typeof modbusRtuDriverConfig>;
export type ModbusTcpDriverConfig = z.output<typeof modbusTcpDriverConfig>;
export type ModbusDriverConfig = ModbusRtuDriverConfig | ModbusTcpDriverConfig;

/** The Modbus spec's inter-frame silence, 3.5 characters; 1.75 ms fixed above 19200 baud. */
export function defaultInterFrameDelayMs(
  baudRate: number,
  parity: string,
  stopBits: number,
): number {
  const bitsPerChar = 1 + 8 + (parity === "none" ? 0 : 1) + stopBits;
  const t35 = baudRate > 19_200 ? 1.75 : (3.5 * bitsPerChar * 1000) / baudRate;
  return Math.max(2, Math.ceil(t35));
}

/** The key under which drivers share one line: the same port or host:port is one bus. */
export function busKey(config: ModbusDriverConfig): string {
  return config.type === "modbus-rtu" ? `rtu:${config.port}` : `tcp:${config.host}:${config.port}`;
}
