import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedPackages } from "../support/shared-packages.js";
import { inCi, requireRoot, requireTool } from "../support/tools.js";
import { findGuestKernel } from "./guest/guest-image.js";
import { GuestPowerCutRig } from "./guest/guest-rig.js";
import { cutTable } from "./report.js";

// A whole system: qemu, Debian's kernel, debootstrap, Mosquitto, root (debootstrap and chroot).
// Missing, each skips with the reason printed, and fails under CI (test/support/tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const qemu = requireTool("qemu-system-x86_64", "apt-get install -y qemu-system-x86");
const debootstrap = requireTool("debootstrap", "apt-get install -y debootstrap");
const root = requireRoot("building the guest's root file system (debootstrap, chroot)");
const kernel = findGuestKernel();
if (typeof kernel === "string") {
  if (inCi()) throw new Error(`the guest power-cut rig: ${kernel}; .ci/run installs it`);
  console.warn(`SKIPPED: the guest power-cut rig: ${kernel}`);
}
const skip =
  mosquitto.skip || qemu.skip || debootstrap.skip || root.skip || typeof kernel === "string";
/** Guest cuts in CI; `npm run bench:powercut` runs a hundred. */
const CUTS = Number(process.env.REEFER_EDGE_GUEST_POWERCUTS ?? 10);

describe.skipIf(skip)("the gateway through power cuts (a whole Debian guest, qemu killed)", () => {
  let rig: GuestPowerCutRig | undefined;
  beforeAll(async () => {
    const built = await sharedPackages("amd64");
    rig = await GuestPowerCutRig.start({
      qemu: qemu.path ?? "",
      mosquitto: mosquitto.path ?? "",
      deb: built.deb,
      seed: 23,
    });
  }, 20 * 60_000);
  // Removing the guest's images and root (thousands of files) beside the other suites' disk
  // work once took more than a minute in CI: cleanup, given room.
  afterAll(async () => {
    await rig?.stop();
  }, 10 * 60_000);

  it(
    `loses nothing captured and gives no seq twice through ${CUTS} cuts of the guest's power`,
    async () => {
      if (!rig) throw new Error("the guest rig did not start");
      for (let i = 0; i < CUTS; i++) await rig.cycle();
      const verdict = await rig.settle();
      console.log(cutTable(rig.cuts, verdict, ["random"]));
      expect(verdict.diagnosis).toBe("");
      expect(verdict.failedStarts).toEqual([]);
      expect(verdict.captured).toBeGreaterThan(CUTS * 3);
      expect(verdict.lost).toEqual([]);
      expect(verdict.conflicts).toEqual([]);
      expect(verdict.recoveries).toBe(0);
    },
    60 * 60_000,
  );
});
