import canonicalize from "canonicalize";
import { describe, expect, it } from "vitest";
import fc from "fast-check";

import { leafBytes } from "./leaf.js";

describe("a leaf's bytes", () => {
  it("are RFC 8785's for flat records, the fast path included", () => {
    const flat = fc.dictionary(
      fc.string({ unit: "binary" }),
      fc.oneof(
        fc.string({ unit: "binary" }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constant(null),
        fc.integer(),
      ),
    );
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
});
