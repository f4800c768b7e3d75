import type { IngestRule } from "../lib/rule-table.js";

/**
 * The part of AWS IoT SQL (version 2016-03-23) that the rule table uses, evaluated locally:
 * `SELECT *` or `SELECT VALUE field`, `FROM 'filter'`, and a WHERE clause that is either a
 * conjunction of tests or `CASE <conjunction> WHEN true THEN false ELSE true END` (its
 * complement, for the quarantine rules). A test is `field = 'literal'`, `field = topic(n)` or
 * `isUndefined(field)`; plus the `${topic(n)}` substitution template. Written by hand because no
 * library implements AWS IoT SQL; a rule outside this subset is refused when the router starts,
 * never misread.
 *
 * Undefined as AWS IoT has it: a comparison with a field the message lacks (or of another type)
 * is Undefined, an AND with an Undefined operand is Undefined, and a WHERE that is not true does
 * not match. So a conjunction keeps a message only when every test is true, and the CASE form
 * (Undefined matches no WHEN) keeps exactly the rest: between the two, every message is routed.
 */
export interface CompiledRule {
  readonly rule: IngestRule;
  /** The MQTT topic filter of the FROM clause. */
  readonly filter: string;
  /** The records the rule's action receives for one message (none when WHERE is not true). */
  evaluate(payload: unknown, topic: string): unknown[];
}

type Truth = boolean | undefined;
type Test = (fields: Record<string, unknown>, levels: readonly string[]) => Truth;

const GRAMMAR = /^SELECT (?:(\*)|VALUE (\w+)) FROM '([^']+)'(?: WHERE (.+))?$/s;
const COMPLEMENT = /^CASE (.+) WHEN true THEN false ELSE true END$/s;
const EQUALS_LITERAL = /^(\w+) = '([^']*)'$/;
const EQUALS_TOPIC = /^(\w+) = topic\((\d+)\)$/;
const IS_UNDEFINED = /^isUndefined\((\w+)\)$/;

function compileTest(text: string): Test | null {
  let m = EQUALS_LITERAL.exec(text);
  if (m) {
    const [, field = "", literal] = m;
    return (fields) => (typeof fields[field] === "string" ? fields[field] === literal : undefined);
  }
  m = EQUALS_TOPIC.exec(text);
  if (m) {
    const [, field = "", n = "0"] = m;
    return (fields, levels) => {
      const level = levels[Number(n) - 1];
      return typeof fields[field] === "string" && level !== undefined
        ? fields[field] === level
        : undefined;
    };
  }
  m = IS_UNDEFINED.exec(text);
  if (m) {
    const [, field = ""] = m;
    return (fields) => fields[field] === undefined;
  }
  return null;
}

/** `a AND b AND ...`: true when every test is; Undefined when any is (AWS IoT's AND). */
function compileConjunction(text: string): Test | null {
  const tests = text.split(" AND ").map((part) => compileTest(part.trim()));
  if (tests.some((t) => t === null)) return null;
  return (fields, levels) => {
    const truths = (tests as Test[]).map((t) => t(fields, levels));
    if (truths.some((t) => t === undefined)) return undefined;
    return truths.every((t) => t === true);
  };
}

function compileWhere(text: string | undefined): Test | null {
  if (text === undefined) return () => true;
  const complement = COMPLEMENT.exec(text.trim());
  if (complement) {
    const inner = compileConjunction(complement[1] ?? "");
    return inner && ((fields, levels) => inner(fields, levels) !== true);
  }
  return compileConjunction(text.trim());
}

export function compileRule(rule: IngestRule): CompiledRule {
  const match = GRAMMAR.exec(rule.sql.trim());
  const where = match ? compileWhere(match[4]) : null;
  if (!match || !where)
    throw new Error(`rule ${rule.name}: SQL outside the local router's subset: ${rule.sql}`);
  const [, star, valueField, filter = ""] = match;
  return {
    rule,
    filter,
    evaluate(payload, topic) {
      // A message that is not a JSON object has no fields: every test on it is Undefined.
      const fields =
        typeof payload === "object" && payload !== null && !Array.isArray(payload)
          ? (payload as Record<string, unknown>)
          : {};
      if (where(fields, topic.split("/")) !== true) return [];
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
