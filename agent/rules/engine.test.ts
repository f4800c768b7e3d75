import { describe, expect, it } from "vitest";
import { rulesSchema } from "../../config/rules-schema.js";
import { makeReading } from "../../test/support/readings.js";
import { BUILTIN_PRODUCTS, type Product } from "../../core/products.js";
import type { ReeferReading } from "../../core/record.js";
import type { StateAlert, WindowAlert } from "../../core/alerts.js";
import { RuleEngine, thresholdFor } from "./engine.js";

const T0 = Date.UTC(2026, 10, 25, 12);
const carrots = BUILTIN_PRODUCTS[0] as Product;
const bananas = BUILTIN_PRODUCTS[1] as Product;
const at = (s: number, temperature: number, seq: number): ReeferReading => ({
  ...makeReading("C1", T0 + s * 1000, { temperature }),
  seq,
});

describe("RuleEngine", () => {
  it("keeps an open window and a raised alert across a reload, and applies the new threshold from then on", () => {
    const engine = new RuleEngine({
      gatewayId: "gw",
      rules: rulesSchema.parse({ temperature: { raiseAfterReadings: 1 } }),
      containers: new Map([["C1", carrots]]),
    });
    const before = engine.evaluate([at(0, 19, 1), at(10, 20, 2)]);
    expect(before.map((a) => a.alert_type)).toEqual(["temperature_excursion"]);
    engine.update(rulesSchema.parse({ temperature: { threshold: 19.5, raiseAfterReadings: 1 } }));
    // 19.7 is over the new threshold: still counted in the window opened before the reload.
    const after = [...engine.evaluate([at(20, 19.7, 3), at(30, 19.2, 4)]), ...engine.flush()];
    const window = after.find((a): a is WindowAlert => a.alert_type === "temperature_window");
    expect(window).toMatchObject({ readings_over: 3, first_seq: 1, last_seq: 3, threshold: 19.5 });
    // The excursion raised before the reload was not raised again, nor lost.
    expect(after.filter((a) => a.alert_type === "temperature_excursion")).toEqual([]);
    expect(engine.isNoteworthy("C1", T0 + 40_000)).toBe(true);
  });

  it("derives thresholds: explicit per product, else setpoint + tolerance, else the default", () => {
    expect(thresholdFor(rulesSchema.parse({}), carrots)).toBe(18);
    expect(thresholdFor(rulesSchema.parse({ temperature: { tolerance: 3 } }), carrots)).toBe(7);
    expect(
      thresholdFor(
        rulesSchema.parse({ temperature: { tolerance: 3, products: { P02: 14 } } }),
        bananas,
      ),
    ).toBe(14);
  });

  it("gives each alert a stable id and the wire fields", () => {
    const engine = new RuleEngine({
      gatewayId: "gw-9",
      rules: rulesSchema.parse({ temperature: { raiseAfterReadings: 2 } }),
      containers: new Map([["C1", carrots]]),
    });
    const [raised] = engine.evaluate([at(0, 19, 7), at(10, 19, 8)]) as StateAlert[];
    expect(raised).toEqual({
      schema: "reefer.alert.v1",
      alert_id: "C1:temperature_excursion:7:raised",
      alert_type: "temperature_excursion",
      severity: "critical",
      state: "raised",
      container_id: "C1",
      gateway_id: "gw-9",
      product_id: "P01",
      first_seq: 7,
      last_seq: 8,
      alert_time: new Date(T0 + 10_000).toISOString(),
      since: new Date(T0).toISOString(),
      value: 19,
      limit: 18,
    });
  });
});
