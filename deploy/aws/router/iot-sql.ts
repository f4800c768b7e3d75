import type { IngestRule } from "../lib/rule-table.js";

/**
 * The part of AWS IoT SQL (version 2016-03-23) that the rule table uses, evaluated locally:
 * `SELECT * FROM 'filter'` and `SELECT VALUE field FROM 'filter' WHERE field = 'literal'`, and
 * the `${topic(n)}` substitution template. Written by hand because no library implements AWS IoT
 * SQL; a rule outside this subset is refused when the router starts, never misread.
 */
export interface CompiledRule {
  readonly rule: IngestRule;
  /** The MQTT topic filter of the FROM clause. */
  readonly filter: string;
  /** The records the rule's action receives for one message (none when WHERE is false). */
  evaluate(payload: unknown): unknown[];
}

const GRAMMAR = /^SELECT (?:(\*)|VALUE (\w+)) FROM '([^']+)'(?: WHERE (\w+) = '([^']*)')?$/;

export function compileRule(rule: IngestRule): CompiledRule {
  const match = GRAMMAR.exec(rule.sql.trim());
  if (!match)
    throw new Error(`rule ${rule.name}: SQL outside the local router's subset: ${rule.sql}`);
  const [, star, valueField, filter = "", whereField, whereValue] = match;
  return {
    rule,
    filter,
    evaluate(payload) {
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return [];
      const fields = payload as Record<string, unknown>;
      if (whereField !== undefined && fields[whereField] !== whereValue) return [];
      if (star) return [payload];
      const value = fields[valueField ?? ""];
      // SELECT VALUE of an array is the array; with Firehose batch mode, a record an element.
      if (Array.isArray(value)) return value as unknown[];
      return value === undefined ? [] : [value];
    },
  };
}

/** MQTT topic filter matching: `+` one level, `#` the rest. */
export function topicMatches(filter: string, topic: string): boolean {
  const wanted = filter.split("/");
  const levels = topic.split("/");
  for (let i = 0; i < wanted.length; i++) {
    if (wanted[i] === "#") return true;
    if (i >= levels.length) return false;
    if (wanted[i] !== "+" && wanted[i] !== levels[i]) return false;
  }
  return wanted.length === levels.length;
}

/** `${topic(n)}`: the n-th level of the topic, counted from 1, as AWS IoT substitutes it. */
export function substitute(template: string, topic: string): string {
  const levels = topic.split("/");
  return template.replace(/\$\{topic\((\d+)\)\}/g, (_, n: string) => levels[Number(n) - 1] ?? "");
}
