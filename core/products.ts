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
}

export const BUILTIN_PRODUCTS: readonly Product[] = Object.freeze([
  { id: "P01", name: "carrots", targetTemperature: 4, targetHumidity: 40 },
  { id: "P02", name: "bananas", targetTemperature: 6, targetHumidity: 60 },
  { id: "P03", name: "salad", targetTemperature: 4, targetHumidity: 40 },
  { id: "P04", name: "avocado", targetTemperature: 6, targetHumidity: 40 },
  { id: "P05", name: "tomato", targetTemperature: 5, targetHumidity: 40 },
]);

/** Built-ins first, then the config's products, which win on the same id. */
export function productCatalogue(extra: readonly Product[] = []): ReadonlyMap<string, Product> {
  const catalogue = new Map<string, Product>();
  for (const product of [...BUILTIN_PRODUCTS, ...extra]) catalogue.set(product.id, product);
  return catalogue;
}
