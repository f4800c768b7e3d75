/**
 * The product catalogue: what a container carries decides its setpoint, and so what counts as
 * an excursion. The built-ins are the original reefer simulator's products (docs/wire-contract.md); config
 * may add products or override these.
 */
export interface Product {
  readonly id: string;
  readonly name: string;
  /** Setpoint, °C (return air). */
  readonly targetTemperature: number;
  /** Target relative humidity, %. */
  readonly targetHumidity: number;
  /**
   * The return-air temperature above which this cargo is out of range, °C: its excursion
   * threshold, at the edge and in the cloud alike. Unset: the rules' `temperature.threshold`.
   */
  readonly threshold?: number;
}

export const BUILTIN_PRODUCTS: readonly Product[] = Object.freeze([
  { id: "P01", name: "carrots", targetTemperature: 4, targetHumidity: 40 },
  { id: "P02", name: "bananas", targetTemperature: 6, targetHumidity: 60 },
  { id: "P03", name: "salad", targetTemperature: 4, targetHumidity: 40 },
  { id: "P04", name: "avocado", targetTemperature: 6, targetHumidity: 40 },
  { id: "P05", name: "tomato", targetTemperature: 5, targetHumidity: 40 },
  // Medicines kept at 2-8 °C (EU GDP): above 8 °C is an excursion, not above the seed's 18.
  { id: "P06", name: "vaccines", targetTemperature: 5, targetHumidity: 40, threshold: 8 },
]);

/** The threshold of products the catalogue names none for (the seed rule's 18 °C). */
export const DEFAULT_THRESHOLD_C = 18;

/**
 * The catalogue's thresholds as a SQL CASE over `product_id`, for the cloud's rules over the
 * same readings (the Flink job, the lake's queries): products the catalogue gives a threshold,
 * the default for the rest. Generated into deploy/aws/analytics/faulty-reefers.sql (`npm run
 * config:docs`; test/deploy/flink-sql.test.ts fails when it drifts), so that the edge and the
 * cloud read one product table.
 */
export function thresholdCaseSql(products: readonly Product[] = BUILTIN_PRODUCTS): string {
  const lines = products
    .filter((p) => p.threshold !== undefined)
    .map((p) => `    WHEN '${p.id.replace(/'/g, "''")}' THEN ${p.threshold}`);
  return ["CASE product_id", ...lines, `    ELSE ${DEFAULT_THRESHOLD_C}`, "  END"].join("\n");
}

/** Built-ins first, then the config's products, which win on the same id. */
export function productCatalogue(extra: readonly Product[] = []): ReadonlyMap<string, Product> {
  const catalogue = new Map<string, Product>();
  for (const product of [...BUILTIN_PRODUCTS, ...extra]) catalogue.set(product.id, product);
  return catalogue;
}
