import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireFaketime, requireTool, inCi } from "../support/tools.js";
import { powerCutDiskProblem } from "./disk.js";
import { CUT_POINTS, PowerCutRig, type CutPoint } from "./rig.js";
import { cutTable } from "./report.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const faketime = requireFaketime("the power-cut rig's clock correction point");
const problem = powerCutDiskProblem();
if (problem !== null) {
  if (inCi()) throw new Error(`the power-cut rig ${problem}; .ci/run installs what it needs`);
  console.warn(`SKIPPED: the power-cut rig ${problem}`);
}
/** Cuts in CI; `npm run bench:powercut` runs a thousand. */
const CUTS = Number(process.env.REEFER_EDGE_POWERCUTS ?? 63);
/** Cuts of agents with write-behind on (`buffer.writeBehindSeconds`). */
const WRITE_BEHIND_CUTS = Number(process.env.REEFER_EDGE_WRITE_BEHIND_POWERCUTS ?? 12);
/** Cuts around a clock correction (libfaketime). */
const CLOCK_CUTS = Number(process.env.REEFER_EDGE_CLOCK_POWERCUTS ?? 6);

describe.skipIf(mosquitto.skip || problem !== null)(
  "the outbox through power cuts (a disk that forgets what was not synced)",
  () => {
    let rig: PowerCutRig;
    beforeAll(async () => {
      rig = await PowerCutRig.start(mosquitto.path ?? "", {
        durability: "full",
        tear: true,
        seed: 21,
        // first start, new outbox in use and migration (3 of the 9 points) each take a gateway
        gateways: 2 + Math.ceil(CUTS / 3),
      });
    });
    afterAll(async () => {
      await rig.stop();
    });

    it(
      `holds every promise through ${CUTS} cuts, at random and at each named point`,
      async () => {
        for (let i = 0; i < CUTS; i++) {
          const point: CutPoint = CUT_POINTS[i % CUT_POINTS.length] ?? "random";
          await rig.cycle(point);
        }
        const verdict = await rig.settle();
        console.log(cutTable(rig.cuts, verdict));
        expect(verdict.failedStarts).toEqual([]);
        expect(verdict.captured).toBeGreaterThan(CUTS);
        expect(verdict.lost).toEqual([]);
        expect(verdict.conflicts).toEqual([]);
        expect(verdict.recoveries).toBe(0);
        const logs = rig.auditLogs();
        console.log(`audit logs: ${JSON.stringify(logs)}`);
        expect(logs.problems).toEqual([]);
        expect(logs.verifiedLeaves).toBeGreaterThan(0);
        // Every named point was reached at least once (a rig that never cuts there proves nothing).
        for (const point of CUT_POINTS) {
          expect(
            rig.cuts.filter((c) => c.point === point && c.reached).length,
            point,
          ).toBeGreaterThan(0);
        }
      },
      40 * 60_000,
    );
  },
);

describe.skipIf(mosquitto.skip || problem !== null)(
  "write-behind through power cuts (readings published before they are written)",
  () => {
    it(
      "never gives a seq twice, and loses nothing it reported stored, online and offline",
      async () => {
        const rig = await PowerCutRig.start(mosquitto.path ?? "", {
          durability: "full",
          tear: true,
          seed: 26,
          gateways: 4,
          writeBehindSeconds: 1,
        });
        const points: CutPoint[] = ["random", "background sync", "acknowledgement", "checkpoint"];
        try {
          for (let i = 0; i < WRITE_BEHIND_CUTS; i++) {
            // Every third cycle offline: everything captured waits, then is written.
            await rig.cycle(points[i % points.length] ?? "random", { offline: i % 3 === 2 });
          }
          await rig.cycle("new outbox in use");
          const verdict = await rig.settle();
          console.log(`write-behind 1 s:\n${cutTable(rig.cuts, verdict)}`);
          const logs = rig.auditLogs();
          console.log(`audit logs: ${JSON.stringify(logs)}`);
          expect(logs.problems).toEqual([]);
          // Published from memory or stored, every reading carries its log index.
          expect(logs.unlogged).toBe(0);
          // An unclean stop begins a new log: more logs than gateways.
          expect(logs.logs).toBeGreaterThan(4);
          expect(verdict.failedStarts).toEqual([]);
          expect(verdict.captured).toBeGreaterThan(0);
          expect(verdict.lost).toEqual([]);
          expect(verdict.conflicts).toEqual([]);
          expect(verdict.recoveries).toBe(0);
        } finally {
          await rig.stop();
        }
      },
      20 * 60_000,
    );
  },
);

describe.skipIf(mosquitto.skip || problem !== null || faketime.skip)(
  "a clock correction through power cuts",
  () => {
    it(
      "never sends one seq with two times: the corrected rewrite is synced before it can leave",
      async () => {
        const rig = await PowerCutRig.start(mosquitto.path ?? "", {
          durability: "full",
          tear: true,
          seed: 11,
          gateways: 1,
          faketime: faketime.path ?? "",
        });
        try {
          for (let i = 0; i < CLOCK_CUTS; i++) await rig.cycle("clock correction");
          const verdict = await rig.settle();
          console.log(`clock correction:\n${cutTable(rig.cuts, verdict, ["clock correction"])}`);
          expect(verdict.failedStarts).toEqual([]);
          expect(verdict.lost).toEqual([]);
          expect(verdict.conflicts).toEqual([]);
          expect(verdict.recoveries).toBe(0);
          // Some cuts came after the correction had run (the others, before it).
          expect(rig.cuts.filter((c) => c.reached).length).toBeGreaterThan(0);
        } finally {
          await rig.stop();
        }
      },
      10 * 60_000,
    );
  },
);

describe.skipIf(mosquitto.skip || problem !== null)("the rig bites", () => {
  it(
    "finds lost readings when the outbox does not sync before it reports a capture (durability: normal)",
    async () => {
      const rig = await PowerCutRig.start(mosquitto.path ?? "", {
        durability: "normal",
        tear: false,
        seed: 7,
        gateways: 1,
      });
      try {
        // Offline, so that what was captured can only be on the disk.
        for (let i = 0; i < 3; i++) await rig.cycle("random", { offline: true });
        const verdict = await rig.settle();
        console.log(
          `durability normal, 3 cuts offline: ${verdict.lost.length} captured readings lost, ${verdict.conflicts.length} seqs carrying two readings`,
        );
        expect(verdict.lost.length).toBeGreaterThan(0);
      } finally {
        await rig.stop();
      }
    },
    5 * 60_000,
  );
});
