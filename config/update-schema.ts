import { z } from "zod";

/** Updates over the air: AWS IoT Jobs hands a signed release, a root unit installs it. */
export const updateSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Take update jobs from AWS IoT Jobs ($aws/things/<gateway>/jobs/...): a job document of operation `reefer-edge.update` naming a version, a package URL, its size and SHA-256, signed by the release key. The agent checks, downloads and verifies the package, then hands it to reefer-edge-update.service (root) by a request file; it never installs anything itself. See docs/updates.md.",
      ),
    releaseKeyFile: z
      .string()
      .default("/etc/reefer-edge/release-key.pem")
      .describe(
        "The release-signing public key (Ed25519, PEM): a job whose signature it does not verify is refused with FAILED and the reason.",
      ),
    stateDir: z
      .string()
      .optional()
      .describe(
        "Where downloads, the request to the installer and its result are kept. Default: `updates` beside the outbox (the agent's state directory).",
      ),
    deferMaxMinutes: z
      .int()
      .min(0)
      .default(60)
      .describe(
        "A download waits while a backlog is draining or an excursion alert is open, at most this long; then it goes ahead.",
      ),
    backlogReadings: z
      .int()
      .min(0)
      .default(600)
      .describe(
        "A backlog this deep or deeper (readings and alerts not yet acknowledged) counts as draining: the update waits.",
      ),
    maxBytesPerSecond: z
      .int()
      .min(1024)
      .optional()
      .describe("Caps the download's bandwidth (a satellite link is shared with the crew's)."),
    soakSeconds: z
      .int()
      .min(10)
      .default(600)
      .describe(
        "How long the new version must capture, commit and publish or buffer, healthy and with no restart, before the installer keeps it; otherwise it reinstalls the previous version.",
      ),
    pollSeconds: z
      .int()
      .min(1)
      .max(600)
      .default(10)
      .describe(
        "How often the agent looks again at a job in hand: a deferral, its health report for the installer's soak, the installer's result. Its steps take at least this long each.",
      ),
    soakMaxMemoryMiB: z
      .int()
      .min(32)
      .default(256)
      .describe(
        "The new version's resident memory, as it reports it in its soak: past this, it is rolled back (a leak).",
      ),
  })
  .prefault({})
  .describe("Over-the-air updates through AWS IoT Jobs.");
