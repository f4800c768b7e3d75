import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { withProductThresholds } from "./cloud-thresholds.js";
import { configJsonSchema, configReference, fleetJsonSchema } from "./docs.js";

/**
 * Writes config/schema.json and config/REFERENCE.md from the schema, and the cloud job's product
 * thresholds from the product table (`npm run config:docs`).
 */
const root = fileURLToPath(new URL("../../config/", import.meta.url));
writeFileSync(`${root}schema.json`, JSON.stringify(configJsonSchema(), null, 2) + "\n");
writeFileSync(`${root}fleet-schema.json`, JSON.stringify(fleetJsonSchema(), null, 2) + "\n");
writeFileSync(`${root}REFERENCE.md`, configReference());
// The cloud job's copy of the product table (config/cloud-thresholds.ts).
const job = fileURLToPath(
  new URL("../../deploy/aws/analytics/faulty-reefers.sql", import.meta.url),
);
writeFileSync(job, withProductThresholds(readFileSync(job, "utf8")));
process.stdout.write(
  `wrote ${root}schema.json, fleet-schema.json, REFERENCE.md and ${job}'s product thresholds\n`,
);
