import { generateKeyPairSync } from "node:crypto";

import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

import { checkpointOrigin, signCheckpoint, verifierKey } from "../../core/audit/checkpoint.js";
import { CLOCK_CORRECTION_FIELD, leafBytes } from "../../core/audit/leaf.js";
import { CompactRange, leafHash } from "../../core/audit/merkle.js";
import type { LoggedRecord } from "../../core/audit/verify-log.js";

/**
 * A voyage's log as the lake would hold it, made here with the log's own primitives: readings of
 * several containers on one gateway, a signed checkpoint every `checkpointEvery` leaves, some
 * readings delivered twice and all of them out of order, and readings before a clock
 * correction that carry their shift. What the tamper harness edits and the verifier judges.
 */
export type Voyage = {
  gatewayId: string;
  origin: string;
  vkey: string;
  /** Frozen: the verifier keeps each frozen record's hash (see verify-log.ts). */
  records: readonly LoggedRecord[];
  checkpoints: string[];
  containers: string[];
  start: Date;
  end: Date;
  /** Leaves in the log, and the size of its last checkpoint. */
  leaves: number;
  signedSize: number;
};

export type VoyageOptions = {
  seed: number;
  days: number;
  intervalMinutes: number;
  containers: number;
  checkpointEvery: number;
  gatewayId?: string;
};

export function makeVoyage(options: VoyageOptions): Voyage {
  const rng = xoroshiro128plus(options.seed);
  const random = (n: number): number => uniformInt(rng, 0, n - 1);
  const gatewayId = options.gatewayId ?? `gw-voyage-${options.seed}`;
  const origin = checkpointOrigin(gatewayId);
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const containers = Array.from(
    { length: options.containers },
    (_, i) => `MSKU${String(1000000 + options.seed * 10 + i).padStart(7, "0")}`,
  );
  const start = new Date(Date.UTC(2026, 10, 1));
  const steps = Math.floor((options.days * 24 * 60) / options.intervalMinutes);
  const range = CompactRange.empty();
  const records: LoggedRecord[] = [];
  const checkpoints: string[] = [];
  // The first hours' readings were stamped before the clock was set, then corrected.
  const correctedUntil = Math.floor(steps / 50);
  const correctionMs = 3_600_000 * 24 * 30;
  for (let step = 0; step < steps; step++) {
    const time = new Date(start.getTime() + step * options.intervalMinutes * 60_000);
    for (const container of containers) {
      const excursion = step % 100 > 95 ? 6 : 0;
      const delivered: Record<string, unknown> = {
        container_id: container,
        measurement_time: time.toISOString(),
        product_id: "P01",
        temperature: Math.round((4 + (random(11) - 5) / 10 + excursion) * 10) / 10,
        target_temperature: 4,
        gateway_id: gatewayId,
        boot_id: `boot-${Math.floor(step / 2000)}`,
        clock: "synced",
        seq: step + 1,
        log_index: range.size,
      };
      if (step < correctedUntil) delivered[CLOCK_CORRECTION_FIELD] = correctionMs;
      range.append(leafHash(leafBytes(delivered)));
      records.push(Object.freeze(delivered));
      if (random(20) === 0) records.push(Object.freeze({ ...delivered })); // delivered twice
      if (range.size % options.checkpointEvery === 0)
        checkpoints.push(sign(range, origin, privateKey));
    }
  }
  // A graceful stop signs what it has (the agent does at SIGTERM).
  if (range.size % options.checkpointEvery !== 0) checkpoints.push(sign(range, origin, privateKey));
  // The lake delivers in any order.
  const shuffled = records
    .map((record) => ({ record, key: random(1 << 30) }))
    .sort((a, b) => a.key - b.key)
    .map(({ record }) => record);
  return {
    gatewayId,
    origin,
    vkey: verifierKey(origin, publicKey),
    records: shuffled,
    checkpoints,
    containers,
    start,
    end: new Date(start.getTime() + steps * options.intervalMinutes * 60_000),
    leaves: range.size,
    signedSize: range.size,
  };
}

function sign(
  range: CompactRange,
  origin: string,
  privateKey: Parameters<typeof signCheckpoint>[1]["privateKey"],
) {
  return signCheckpoint(
    { origin, size: range.size, root: range.root() },
    { name: origin, privateKey },
  );
}
