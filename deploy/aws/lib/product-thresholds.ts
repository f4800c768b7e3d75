import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "./project-root.js";

const BEGIN = "-- product thresholds:";
const END = "-- end of product thresholds";

/**
 * The product table's thresholds as a SQL CASE over `product_id`, read from the Flink job's SQL
 * (analytics/faulty-reefers.sql), where `npm run config:docs` generates it from the agent's
 * product catalogue (core/products.ts): the lake's queries count "over" as the job and the edge
 * do. Athena runs the same CASE as Flink.
 */
export function productThresholdCase(): string {
  const sql = readFileSync(join(projectRoot(), "analytics", "faulty-reefers.sql"), "utf8");
  const begin = sql.indexOf(BEGIN);
  const end = sql.indexOf(END);
  if (begin < 0 || end < begin)
    throw new Error("analytics/faulty-reefers.sql has no product-thresholds block");
  const block = sql.slice(sql.indexOf("\n", begin) + 1, end).trim();
  if (!/^CASE product_id\b[\s\S]*\bEND$/.test(block))
    throw new Error(`the product-thresholds block is not a CASE: ${block}`);
  return block;
}
