import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rulesSchema } from "../../config/rules-schema.js";
import { makeReading } from "../../test/support/readings.js";
import type { ReeferReading } from "../../core/record.js";
import { fastPathOf, mayBeOn, STATE_RULES } from "./state-rules.js";

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });

/** Readings around every rule's limits, nulls included. */
const reading = fc
  .record({
    temperature: maybe(fc.double({ min: -5, max: 30, noNaN: true })),
    kilowatts: maybe(fc.constantFrom(0, 0.5, 4.4)),
    fan_1: maybe(fc.boolean()),
    fan_2: maybe(fc.boolean()),
    fan_3: maybe(fc.boolean()),
    defrost_cycle: maybe(fc.boolean()),
    oxygen_level: maybe(fc.double({ min: 5, max: 25, noNaN: true })),
    carbon_dioxide_level: maybe(fc.double({ min: 0, max: 20, noNaN: true })),
    time_door_open: maybe(fc.constantFrom(0, 30)),
  })
  .map((fields): ReeferReading => ({ ...makeReading("C1"), ...fields, seq: 1 }));

const rulesConfig = fc
  .record({
    power: fc.boolean(),
    fans: fc.boolean(),
    atmosphere: fc.boolean(),
    sensorFault: fc.boolean(),
  })
  .map((on) =>
    rulesSchema.parse({
      power: { enabled: on.power },
      fans: { enabled: on.fans },
      atmosphere: { enabled: on.atmosphere },
      sensorFault: { enabled: on.sensorFault, fields: ["temperature", "oxygen_level"] },
    }),
  );

describe("the engine's fast path", () => {
  it("mayBeOn is true whenever an enabled rule's verdict is on, or a watched field is null", () => {
    fc.assert(
      fc.property(
        reading,
        rulesConfig,
        fc.double({ min: 2, max: 20, noNaN: true }),
        (r, rules, threshold) => {
          const facts = { threshold, lastDefrostAt: -Infinity, lastDoorAt: -Infinity };
          const on =
            STATE_RULES.some(
              (rule) => rule.enabled(rules) && rule.verdict(r, 0, facts, rules) === "on",
            ) ||
            (rules.sensorFault.enabled && rules.sensorFault.fields.some((f) => r[f] === null));
          if (on) expect(mayBeOn(r, threshold, fastPathOf(rules))).toBe(true);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
