import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { findTool } from "../support/tools.js";
import { buildPackages } from "../support/packages.js";
import { powerCutDiskProblem } from "../powercut/disk.js";
import { findGuestKernel } from "../powercut/guest/guest-image.js";
import { GuestPowerCutRig } from "../powercut/guest/guest-rig.js";
import { updateJobs } from "../powercut/guest/update-cuts.js";
import { cutTable, updateCutTable } from "../powercut/report.js";
import { CUT_POINTS, PowerCutRig } from "../powercut/rig.js";
import type { Verdict } from "../powercut/verdict.js";

/**
 * `npm run bench:powercut [-- --cuts N --guest-cuts G --update-cuts U --seed S --only fuse|guest]`:
 * the power-cut rigs' long runs, and the tables per cut point that RELIABILITY.md keeps. The
 * FUSE disk's thousand cuts (against the CI's fifty-odd), half of them with the unsynced writes
 * torn rather than dropped; then a hundred cuts of a whole Debian guest's power under qemu (CI:
 * ten), the agent installed from a .deb built here, and fifty updates over the air with a cut in
 * each (CI: five). Exits 1 if any invariant fails.
 */
const { values } = parseArgs({
  options: {
    cuts: { type: "string", default: "1000" },
    "guest-cuts": { type: "string", default: "100" },
    "update-cuts": { type: "string", default: "50" },
    seed: { type: "string", default: "1" },
    only: { type: "string" },
  },
});
const cuts = Number(values.cuts);
const guestCuts = Number(values["guest-cuts"]);
const updateCuts = Number(values["update-cuts"]);
const seed = Number(values.seed);
const runFuse = values.only !== "guest";
const runGuest = values.only !== "fuse";
const mosquitto = findTool("mosquitto");
const qemu = findTool("qemu-system-x86_64");
const kernel = findGuestKernel();
const problem =
  (mosquitto ? null : "needs mosquitto (apt-get install mosquitto)") ??
  (runFuse ? powerCutDiskProblem() : null) ??
  (runGuest && !qemu ? "needs qemu-system-x86_64 (apt-get install qemu-system-x86)" : null) ??
  (runGuest && typeof kernel === "string" ? kernel : null) ??
  (runGuest && process.getuid?.() !== 0
    ? "the guest's root is made with debootstrap: run as root"
    : null);
if (problem !== null || !mosquitto || !qemu) {
  process.stderr.write(`bench:powercut: ${problem ?? "a tool is missing"}\n`);
  process.exit(2);
}
const say = (text: string) => process.stdout.write(`${text}\n`);
say(
  `reefer-edge power-cut rigs: ${runFuse ? cuts : 0} FUSE cuts, ${runGuest ? guestCuts : 0} guest cuts, ${runGuest ? updateCuts : 0} in updates, seed ${seed}, node ${process.version}, ${new Date().toISOString()}`,
);
const outcome = { failed: false };

function judged(title: string, table: string, verdict: Verdict): void {
  say(`\n${title}:`);
  say(table);
  if (
    verdict.lost.length > 0 ||
    verdict.conflicts.length > 0 ||
    verdict.failedStarts.length > 0 ||
    verdict.recoveries > 0 ||
    verdict.diagnosis !== ""
  ) {
    outcome.failed = true;
    say(
      `FAILED: lost ${verdict.lost.slice(0, 20).join(", ")}; conflicts ${verdict.conflicts.slice(0, 20).join(", ")}; failed starts ${verdict.failedStarts.join("; ")}\n${verdict.diagnosis}`,
    );
  }
}

for (const tear of runFuse ? [false, true] : []) {
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
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    judged(
      `unsynced writes ${tear ? "torn at 512-byte sectors" : "dropped"}, ${seconds} s`,
      cutTable(rig.cuts, verdict),
      verdict,
    );
  } finally {
    await rig.stop();
  }
}

if (runGuest) {
  const dir = mkdtempSync(join(tmpdir(), "reefer-edge-bench-deb-"));
  try {
    say("building the amd64 .deb for the guest");
    const built = await buildPackages("amd64", dir);
    const rig = await GuestPowerCutRig.start({
      qemu,
      mosquitto,
      deb: built.deb,
      version: built.version,
      seed,
      updates: { soakSeconds: 10 },
    });
    const started = Date.now();
    try {
      for (let i = 0; i < guestCuts; i++) {
        await rig.cycle();
        if ((i + 1) % 10 === 0) say(`  guest: ${i + 1}/${guestCuts} cuts`);
      }
      for (const [i, phases] of updateJobs(updateCuts).entries()) {
        const update = await rig.updateJob(phases);
        say(
          `  guest: update ${i + 1}: cut in ${update.cuts.map((c) => c.phase).join(", ")}, ${update.status}, running ${update.running}`,
        );
        // Consistent (the job names the version running), and, the release being good, kept.
        if (update.running !== (update.status === "SUCCEEDED" ? update.to : update.from))
          outcome.failed = true;
        if (update.status !== "SUCCEEDED") {
          outcome.failed = true;
          say(`    FAILED: ${update.reason}`);
        }
      }
      const verdict = await rig.settle();
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      judged(
        `a whole Debian guest, qemu killed, ${seconds} s`,
        `${cutTable(rig.cuts, verdict, ["random", "update"])}\n\n${updateCutTable(rig.updates)}`,
        verdict,
      );
    } finally {
      await rig.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
process.exitCode = outcome.failed ? 1 : 0;
