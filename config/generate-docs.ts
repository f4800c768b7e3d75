import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { configJsonSchema, configReference, fleetJsonSchema } from "./docs.js";

/** Writes config/schema.json and config/REFERENCE.md from the schema (`npm run config:docs`). */
const root = fileURLToPath(new URL("../../config/", import.meta.url));
writeFileSync(`${root}schema.json`, JSON.stringify(configJsonSchema(), null, 2) + "\n");
writeFileSync(`${root}fleet-schema.json`, JSON.stringify(fleetJsonSchema(), null, 2) + "\n");
writeFileSync(`${root}REFERENCE.md`, configReference());
process.stdout.write(`wrote ${root}schema.json, fleet-schema.json and REFERENCE.md\n`);
