import { z } from "zod";

/** The named shadows' settings: the gateway's health, reported; its settings, taken. */
export const healthSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Report the gateway's health to its named shadow `health` ($aws/things/<gateway>/shadow/name/health/update, QoS 0, outside the outbox): outbox depth, bytes and oldest age, evictions, dead letters, clock state, Modbus requests and errors per device, unreachable devices, version, boot id, uptime, last delivery.",
      ),
    intervalSeconds: z
      .int()
      .min(10)
      .default(300)
      .describe("The routine report's period, while nothing changes."),
    minGapSeconds: z
      .int()
      .min(1)
      .default(10)
      .describe(
        "A change of state (a backlog starts or drains, the clock's trust changes, a device fails or recovers) is reported at once, but never two reports closer than this.",
      ),
  })
  .prefault({})
  .describe("Health in the device shadow: which gateways hold a backlog, seen from the cloud.");

export const remoteConfigSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Take sampling.intervalMs and rules from the named shadow `config` (state.desired), checked by this schema with this file under them, applied without a restart and reported with the version applied; a refusal is reported with each problem's path. Identity, broker, certificates, outbox and listener stay this file's.",
      ),
    stateFile: z
      .string()
      .optional()
      .describe(
        "Where the last applied remote settings are kept, so a restart while offline runs with them. Default: remote-config.json beside the outbox.",
      ),
  })
  .prefault({})
  .describe("Remote configuration through the device shadow.");
