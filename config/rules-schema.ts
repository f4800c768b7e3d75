import { z } from "zod";
import { NUMERIC_FIELDS, BOOLEAN_FIELDS } from "../core/record.js";
import { DEFAULT_THRESHOLD_C } from "../core/products.js";

/** The seed's cloud rule: a reading above 18 °C is over. */
export const SEED_THRESHOLD_C = DEFAULT_THRESHOLD_C;

const windowSchema = z
  .strictObject({
    seconds: z
      .int()
      .min(1)
      .max(86_400)
      .default(60)
      .describe(
        "Tumbling window length in event time (measurement_time), aligned to the epoch like Flink's TUMBLE.",
      ),
    allowedLatenessSeconds: z
      .int()
      .min(0)
      .max(3600)
      .default(10)
      .describe(
        "Out-of-order readings up to this late still count (the watermark trails the newest reading by this); later ones are counted as late and left out, as Flink drops them.",
      ),
  })
  .prefault({})
  .describe("The seed's windowed rule: per container, readings over the threshold per window.");

const temperatureSchema = z
  .strictObject({
    threshold: z
      .number()
      .min(-60)
      .max(80)
      .default(SEED_THRESHOLD_C)
      .describe("°C; a reading strictly above is over. The seed's cloud rule uses 18."),
    tolerance: z
      .number()
      .positive()
      .max(40)
      .optional()
      .describe(
        "When set, each product's threshold is its setpoint + tolerance instead of `threshold`.",
      ),
    products: z
      .record(z.string(), z.number().min(-60).max(80))
      .default({})
      .describe(
        "Explicit thresholds by product id (P02: 14); they win over `threshold` and `tolerance`.",
      ),
    raiseAfterReadings: z
      .int()
      .min(1)
      .default(3)
      .describe(
        "Hysteresis: raise an excursion after this many consecutive readings over the threshold...",
      ),
    raiseAfterSeconds: z
      .int()
      .min(0)
      .optional()
      .describe("...or after this long over it, whichever comes first."),
    clearBand: z
      .number()
      .min(0)
      .max(20)
      .default(1)
      .describe("An excursion clears only below threshold minus this band."),
    graceAfterDefrostSeconds: z
      .int()
      .min(0)
      .default(900)
      .describe(
        "No excursion is raised during a defrost cycle and this long after: defrost warms the return air.",
      ),
    graceAfterDoorSeconds: z
      .int()
      .min(0)
      .default(600)
      .describe("Likewise after the door was open."),
  })
  .prefault({})
  .describe("Temperature: the windowed rule's threshold and the excursion alert.");

const graceSeconds = (seconds: number, what: string) =>
  z
    .int()
    .min(0)
    .default(seconds)
    .describe(`How long ${what} must last before the alert is raised.`);

export const rulesSchema = z
  .strictObject({
    window: windowSchema,
    temperature: temperatureSchema,
    power: z
      .strictObject({
        enabled: z.boolean().default(true),
        graceSeconds: graceSeconds(60, "zero kilowatts"),
      })
      .prefault({})
      .describe("Power off: kilowatts 0 while the unit is scheduled on."),
    fans: z
      .strictObject({
        enabled: z.boolean().default(true),
        graceSeconds: graceSeconds(120, "a stopped fan (outside defrost, with power)"),
      })
      .prefault({})
      .describe("Fans stopped."),
    atmosphere: z
      .strictObject({
        enabled: z.boolean().default(true),
        minOxygen: z
          .number()
          .min(0)
          .max(25)
          .default(12)
          .describe("%; below is an alert (original simulator: 12)."),
        maxCarbonDioxide: z
          .number()
          .min(0)
          .max(100)
          .default(12)
          .describe("%; above is an alert (original simulator: 12)."),
        band: z.number().min(0).max(5).default(0.5).describe("Hysteresis band for clearing."),
        graceSeconds: graceSeconds(60, "an atmosphere outside its limits"),
      })
      .prefault({})
      .describe("Controlled atmosphere: O2 and CO2 limits."),
    sensorFault: z
      .strictObject({
        enabled: z.boolean().default(true),
        afterSeconds: graceSeconds(300, "a field reading null"),
        fields: z
          .array(z.enum([...NUMERIC_FIELDS, ...BOOLEAN_FIELDS]))
          .default(["temperature"])
          .describe("Fields whose absence is a fault (a sensor a container is known to have)."),
      })
      .prefault({})
      .describe("Sensor fault: a field that reads null for a while."),
    deviceUnreachable: z
      .strictObject({
        enabled: z.boolean().default(true),
        afterSeconds: z
          .number()
          .positive()
          .max(86_400)
          .optional()
          .describe(
            "Seconds without a good read before the alert is raised; default: the longer of three sampling intervals and 30 s.",
          ),
      })
      .prefault({})
      .describe(
        "Device unreachable (critical): the container's controller or sensors stopped answering (timeouts, CRC errors, the port gone). Clears on the first good read.",
      ),
  })
  .prefault({})
  .describe(
    "Edge rules: evaluated on every reading, so alerts exist while offline. Reloaded on SIGHUP or file change.",
  );

export type RulesConfig = z.output<typeof rulesSchema>;

/**
 * Fields whose change report-by-exception compares against a deadband, with defaults set above
 * ordinary sensor noise (a probe's ±0.1 °C, a CO2 cell's ±0.3 %), so noise alone is not news.
 */
export const DEFAULT_DEADBANDS = {
  temperature: 0.5,
  ambient_temperature: 2,
  humidity_level: 5,
  kilowatts: 1.5,
  oxygen_level: 1,
  carbon_dioxide_level: 1,
} as const;

export const reportByExceptionSchema = z
  .strictObject({
    maxSilenceSeconds: z
      .int()
      .min(1)
      .default(900)
      .describe("A reading is published at least this often, changed or not."),
    deadbands: z
      .partialRecord(z.enum(NUMERIC_FIELDS), z.number().nonnegative())
      .default(DEFAULT_DEADBANDS)
      .describe(
        "A reading is published when a field moved more than its deadband since the last published one; any boolean change (fans, defrost) or null/non-null change counts too.",
      ),
  })
  .describe(
    "Report by exception: publish a routine reading only when something changed. Readings inside a window with readings over the threshold, or while an alert is raised, are always published.",
  );

export type ReportByExceptionConfig = z.output<typeof reportByExceptionSchema>;
