import { z } from "zod";

export const SCENARIOS = [
  "normal",
  "temperature-rising",
  "power-off",
  "co2-sensor",
  "o2-sensor",
  "fan-failure",
  "door-open",
] as const;

export type Scenario = (typeof SCENARIOS)[number];

export const simulatedDriverConfig = z
  .object({
    type: z.literal("simulated"),
    scenario: z
      .enum(SCENARIOS)
      .default("normal")
      .describe(
        "Failure scenario of the original reefer simulator: normal, temperature-rising (compressor failure), power-off, co2-sensor, o2-sensor, fan-failure, door-open.",
      ),
    seed: z
      .int()
      .default(1)
      .describe("Seed of the noise and events: the same seed gives the same readings."),
    timeScale: z
      .number()
      .positive()
      .max(100_000)
      .default(1)
      .describe(
        "Model seconds per real second. 1 is real time; the demo runs at 60 (an hour a minute).",
      ),
    scenarioOnsetSeconds: z
      .number()
      .nonnegative()
      .default(0)
      .describe("Model seconds of normal running before the scenario's fault begins."),
    ambientTemperature: z
      .number()
      .min(-40)
      .max(60)
      .default(25)
      .describe("Mean outside air temperature, °C; a daily swing of ±4 °C is added."),
    defrostIntervalHours: z
      .number()
      .positive()
      .default(6)
      .describe("Hours between defrost cycles."),
    defrostMinutes: z.number().positive().default(20).describe("Length of a defrost cycle."),
    doorOpeningsPerDay: z
      .number()
      .nonnegative()
      .default(1)
      .describe("Mean number of brief door openings a day (inspections) in every scenario."),
    track: z
      .object({
        latitude: z.number().min(-90).max(90),
        longitude: z.number().min(-180).max(180),
        headingDegrees: z.number().min(0).max(360).default(90),
        speedKnots: z.number().nonnegative().max(40).default(16),
      })
      .optional()
      .describe(
        "A great-circle-free dead-reckoning GPS track; without it latitude and longitude are null.",
      ),
  })
  .strict();

export type SimulatedDriverConfig = z.output<typeof simulatedDriverConfig>;
