import { thresholdCaseSql } from "../core/products.js";

/**
 * The product table in the cloud job's SQL (deploy/aws/analytics/faulty-reefers.sql): the block
 * between these lines is generated from core/products.ts, so the edge and the cloud read one
 * table. `npm run config:docs` writes it; test/deploy/flink-sql.test.ts fails when it drifts.
 */
export const THRESHOLDS_BEGIN =
  "  -- product thresholds: generated from core/products.ts by npm run config:docs; edit there\n";
export const THRESHOLDS_END = "  -- end of product thresholds\n";

/** The SQL with its product-thresholds block generated anew. Throws if it has none. */
export function withProductThresholds(sql: string): string {
  const begin = sql.indexOf(THRESHOLDS_BEGIN);
  const end = sql.indexOf(THRESHOLDS_END);
  if (begin < 0 || end < begin)
    throw new Error("the SQL has no product-thresholds block (its marker lines are gone)");
  return (
    sql.slice(0, begin + THRESHOLDS_BEGIN.length) + `  ${thresholdCaseSql()}\n` + sql.slice(end)
  );
}
