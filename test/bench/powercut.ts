import { parseArgs } from "node:util";
import { findTool } from "../support/tools.js";
import { powerCutDiskProblem } from "../powercut/disk.js";
import { cutTable } from "../powercut/report.js";
import { CUT_POINTS, PowerCutRig } from "../powercut/rig.js";

/**
 * `npm run bench:powercut [-- --cuts N --seed S]`: the power-cut rig's long run (a thousand cuts
 * by default, against the CI's fifty-odd), half of them with the unsynced writes torn rather
 * than dropped, and the table per cut point that RELIABILITY.md keeps. Exits 1 if any invariant
 * fails.
 */
const { values } = parseArgs({
  options: {
    cuts: { type: "string", default: "1000" },
    seed: { type: "string", default: "1" },
  },
});
const cuts = Number(values.cuts);
const seed = Number(values.seed);
const mosquitto = findTool("mosquitto");
const problem = powerCutDiskProblem();
if (!mosquitto || problem !== null) {
  process.stderr.write(
    `bench:powercut: ${problem ?? "needs mosquitto (apt-get install mosquitto)"}\n`,
  );
  process.exit(2);
}
const say = (text: string) => process.stdout.write(`${text}\n`);
say(
  `reefer-edge power-cut rig: ${cuts} cuts, seed ${seed}, node ${process.version}, ${new Date().toISOString()}`,
);
let failed = false;
for (const tear of [false, true]) {
  const share = tear ? cuts - Math.floor(cuts / 2) : Math.floor(cuts / 2);
  const rig = await PowerCutRig.start(mosquitto, {
    durability: "full",
    tear,
    seed: seed + (tear ? 1 : 0),
    gateways: 2 + Math.ceil(share / 3),
  });
  const started = Date.now();
  try {
    for (let i = 0; i < share; i++) {
      await rig.cycle(CUT_POINTS[i % CUT_POINTS.length] ?? "random");
      if ((i + 1) % 50 === 0) say(`  ${tear ? "torn" : "dropped"}: ${i + 1}/${share} cuts`);
    }
    const verdict = await rig.settle();
    say(
      `\nunsynced writes ${tear ? "torn at 512-byte sectors" : "dropped"}, ${((Date.now() - started) / 1000).toFixed(0)} s:`,
    );
    say(cutTable(rig.cuts, verdict));
    if (
      verdict.lost.length > 0 ||
      verdict.conflicts.length > 0 ||
      verdict.failedStarts.length > 0 ||
      verdict.recoveries > 0
    ) {
      failed = true;
      say(
        `FAILED: lost ${verdict.lost.slice(0, 20).join(", ")}; conflicts ${verdict.conflicts.slice(0, 20).join(", ")}; failed starts ${verdict.failedStarts.join("; ")}\n${verdict.diagnosis}`,
      );
    }
  } finally {
    await rig.stop();
  }
}
process.exitCode = failed ? 1 : 0;
