import { describe, expect, it } from "vitest";

import { CLOCK_FLOOR_MS } from "../../core/clock.js";
import { withSeq } from "../../core/record.js";
import { makeReading } from "../../test/support/readings.js";
import { GivenSeqs } from "./given-seqs.js";

describe("GivenSeqs: the seqs memory gives while the outbox's storage fails", () => {
  it("goes on from the disk's last seq, each container apart, several in one tick", () => {
    const disk = new Map([["C1", 41]]);
    const seqs = new GivenSeqs(
      () => CLOCK_FLOOR_MS + 5,
      (id) => disk.get(id),
    );
    const given = seqs.next([makeReading("C1"), makeReading("C1"), makeReading("C2")]);
    expect(given.map((r) => [r.container_id, r.seq])).toEqual([
      ["C1", 42],
      ["C1", 43],
      ["C2", CLOCK_FLOOR_MS + 6],
    ]);
    // Given is not kept until noted: the commit that stores them says so.
    expect(seqs.last("C1")).toBe(41);
    seqs.note(given);
    expect(seqs.last("C1")).toBe(43);
    expect(seqs.next([makeReading("C1")])[0]?.seq).toBe(44);
  });

  it("starts a container the disk cannot answer for at the wall clock, never below the build's floor", () => {
    const seqs = new GivenSeqs(
      () => 5,
      () => undefined,
    );
    expect(seqs.last("C9")).toBe(CLOCK_FLOOR_MS);
    expect(seqs.knows("C9")).toBe(true);
  });

  it("never goes down: a lower seq noted or learned changes nothing", () => {
    const seqs = new GivenSeqs(
      () => 0,
      () => 100,
    );
    expect(seqs.last("C1")).toBe(100);
    seqs.note([withSeq(makeReading("C1"), 7)]);
    seqs.learn("C1", 3);
    expect(seqs.all.get("C1")).toBe(100);
    seqs.learn("C2", 12);
    expect(seqs.last("C2")).toBe(12);
  });
});
