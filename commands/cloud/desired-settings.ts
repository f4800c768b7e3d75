/**
 * `--set rules.temperature.threshold=9` as a nested desired state. A value is read as JSON when
 * it is JSON (9, true, null, {"P02": 14}), else as a string; `null` removes a desired value, so
 * the gateway's own file applies again.
 */
export function desiredFromSets(sets: readonly string[]): Record<string, unknown> {
  const desired: Record<string, unknown> = {};
  for (const set of sets) {
    const equals = set.indexOf("=");
    const path = equals > 0 ? set.slice(0, equals).trim() : "";
    if (!/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(path)) {
      throw new Error(`--set ${set}: expected PATH=VALUE, such as rules.temperature.threshold=9`);
    }
    const raw = set.slice(equals + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    const keys = path.split(".");
    let node = desired;
    for (const key of keys.slice(0, -1)) {
      const next = node[key];
      if (typeof next === "object" && next !== null && !Array.isArray(next)) {
        node = next as Record<string, unknown>;
      } else {
        const created: Record<string, unknown> = {};
        node[key] = created;
        node = created;
      }
    }
    node[keys[keys.length - 1] ?? path] = value;
  }
  return desired;
}
