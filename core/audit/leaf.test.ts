import canonicalize from "canonicalize";
import { describe, expect, it } from "vitest";
import fc from "fast-check";

import { inCanonicalOrder, leafBytes } from "./leaf.js";

/** A value of a flat record: what a reading holds. */
const flatValue = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.integer(),
);

describe("a leaf's bytes", () => {
  it("are RFC 8785's for flat records, the fast path included", () => {
    const flat = fc.dictionary(fc.string({ unit: "binary" }), flatValue);
    fc.assert(
      fc.property(flat, (record) => {
        expect(leafBytes(record).toString("utf8")).toBe(canonicalize(record));
      }),
      { numRuns: 2000 },
    );
  });

  it("are RFC 8785's for nested records (a gap record)", () => {
    const record = {
      schema: "reefer.gap.v1",
      leaves: [{ seq: 2, log_index: 1 }],
      b: { z: 1, a: [2, 1] },
    };
    expect(leafBytes(record).toString("utf8")).toBe(canonicalize(record));
  });

  it("come out of a reading put in canonical order with its log fields, or it is refused", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: "binary" }), flatValue),
        fc.string(),
        fc.nat(),
        (record, logId, logIndex) => {
          const extra = { log_id: logId, log_index: logIndex };
          const expected = canonicalize({ ...record, ...extra });
          const ordered = inCanonicalOrder(record, extra);
          // Refused only where JSON.stringify could not be JCS: an array index, "__proto__".
          if (ordered === null) {
            expect(
              Object.keys(record).some((k) => /^(0|[1-9]\d*)$/.test(k) || k === "__proto__"),
            ).toBe(true);
            return;
          }
          expect(ordered.json).toBe(expected);
          expect(JSON.stringify(ordered.record)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
    expect(inCanonicalOrder({ a: { nested: 1 } }, { log_index: 1 })).toBeNull();
    expect(inCanonicalOrder({ a: 1, clock_correction_ms: 5 }, { log_index: 1 })).toBeNull();
  });
});
