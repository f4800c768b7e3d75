import { z } from "zod";
import { fleetSchema } from "./fleet-schema.js";
import { configSchema } from "./schema.js";

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
};

/** The JSON Schema of the config file as a user writes it (for editor completion). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }),
    title: "reefer-edge agent config",
  };
}

/** The JSON Schema of a fleet file of `reefer-edge fleet`. */
export function fleetJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(fleetSchema, { io: "input", unrepresentable: "any" }),
    title: "reefer-edge fleet file",
  };
}

/**
 * config/REFERENCE.md: every setting of the agent's config and of the fleet file, with its type,
 * default and meaning, from the schemas.
 */
export function configReference(): string {
  const rows: string[] = [];
  walk(configJsonSchema(), "", rows, true);
  const fleetRows: string[] = [];
  walk(fleetJsonSchema(), "", fleetRows, true);
  return [
    "# Config reference",
    "",
    "Generated from `config/schema.ts` by `npm run config:docs`; do not edit by hand.",
    "A test fails when this file and the schema disagree.",
    "",
    "Values may be overridden by environment variables: `REEFER_EDGE__MQTT__URL` sets `mqtt.url`,",
    "`REEFER_EDGE__CONTAINERS__0__PRODUCT` sets `containers[0].product`. Relative file paths are",
    "relative to the config file's folder.",
    "",
    "| setting | type | default | meaning |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
    "## The fleet file",
    "",
    "`reefer-edge fleet --file FLEET.yaml` runs a simulated fleet of real agents (generated from",
    "`config/fleet-schema.ts`; JSON Schema in `config/fleet-schema.json`). Gateway `i` gets the",
    "`agent` settings with its own id, containers, outbox and certificate. Relative paths are",
    "relative to the fleet file's folder.",
    "",
    "| setting | type | default | meaning |",
    "| --- | --- | --- | --- |",
    ...fleetRows,
    "",
  ].join("\n");
}

function walk(schema: JsonSchema, path: string, rows: string[], required: boolean): void {
  const variants = schema.anyOf ?? schema.oneOf;
  // A union discriminated by one field: the driver block (`type`), a chaos event (`kind`).
  const discriminator = ["type", "kind"].find(
    (field) => variants?.every((v) => v.properties?.[field]?.const !== undefined) ?? false,
  );
  if (variants && discriminator) {
    for (const variant of variants) {
      const tag = String(variant.properties?.[discriminator]?.const);
      rows.push(
        row(
          path,
          `object (${discriminator}: ${tag})`,
          undefined,
          schema.description ?? `With \`${discriminator}: ${tag}\`.`,
          required,
        ),
      );
      walkProperties(variant, path, rows);
    }
    return;
  }
  if (schema.type === "object" && schema.properties) {
    if (path) rows.push(row(path, "object", schema.default, schema.description, required));
    walkProperties(schema, path, rows);
    return;
  }
  if (schema.type === "array" && schema.items) {
    rows.push(row(path, "list", schema.default, schema.description, required));
    walk(schema.items, `${path}[]`, rows, true);
    return;
  }
  rows.push(row(path, typeOf(schema), schema.default, schema.description, required));
}

function walkProperties(schema: JsonSchema, path: string, rows: string[]): void {
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    walk(child, path ? `${path}.${name}` : name, rows, schema.required?.includes(name) ?? false);
  }
}

function typeOf(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return variants.map(typeOf).join(" or ");
  let type = Array.isArray(schema.type) ? schema.type.join(" or ") : (schema.type ?? "any");
  const safe = (n: number) => Math.abs(n) < Number.MAX_SAFE_INTEGER;
  if (schema.minimum !== undefined && safe(schema.minimum)) type += ` ≥ ${schema.minimum}`;
  if (schema.maximum !== undefined && safe(schema.maximum)) type += ` ≤ ${schema.maximum}`;
  return type;
}

function row(
  path: string,
  type: string,
  def: unknown,
  description: string | undefined,
  required: boolean,
): string {
  const defaultText =
    def === undefined
      ? required
        ? "required"
        : "—"
      : `\`${JSON.stringify(def)}\``.replaceAll("|", "\\|");
  const text = (description ?? "").replaceAll("|", "\\|").replaceAll("\n", " ");
  return `| \`${path}\` | ${type} | ${defaultText} | ${text} |`;
}
