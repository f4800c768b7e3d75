import { generateKeyPairSync } from "node:crypto";

import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

import { checkpointOrigin, signCheckpoint, verifierKey } from "../../core/audit/checkpoint.js";
import { CLOCK_CORRECTION_FIELD, leafBytes } from "../../core/audit/leaf.js";
import { PendingGap } from "../../core/audit/gap.js";
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
  /**
   * What the gateway dropped on purpose, declared in gap records (reefer.gap.v2) logged before
   * the next checkpoint as the agent logs them: a full disk that evicts every container's readings
   * for a few steps now and then, and a reading report by exception held and never sent.
   */
  drops?: boolean;
  /**
   * The edge's alerts as leaves (reefer.alert.v1), logged right after the reading that decided
   * them, as the agent commits them: an excursion raised as it starts, cleared as it ends.
   */
  alerts?: boolean;
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
  const pending = {
    evicted: PendingGap.empty("evicted"),
    dropped_by_exception: PendingGap.empty("dropped_by_exception"),
  };
  /** Before a checkpoint: what was dropped since the last one, as gap record leaves. */
  const logGaps = (at: Date) => {
    for (const reason of ["evicted", "dropped_by_exception"] as const) {
      const gap = pending[reason];
      if (gap.empty) continue;
      const record = { ...gap.record(gatewayId, at.toISOString()), log_index: range.size };
      range.append(leafHash(leafBytes(record)));
      records.push(Object.freeze(record));
      pending[reason] = PendingGap.empty(reason);
    }
  };
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
      const hash = leafHash(leafBytes(delivered));
      const index = range.append(hash);
      // A full disk for three steps in 40; now and then a reading held and never sent.
      const dropped =
        options.drops === true
          ? step % 40 >= 37
            ? "evicted"
            : random(30) === 0
              ? "dropped_by_exception"
              : null
          : null;
      if (dropped !== null)
        pending[dropped].add(time.toISOString(), index, hash, container, step + 1);
      else {
        records.push(Object.freeze(delivered));
        if (random(20) === 0) records.push(Object.freeze({ ...delivered })); // delivered twice
      }
      const afterLeaf = () => {
        if (range.size % options.checkpointEvery !== 0) return;
        logGaps(time);
        checkpoints.push(sign(range, origin, privateKey));
      };
      afterLeaf();
      const phase = step % 100;
      if (options.alerts === true && (phase === 96 || (phase === 0 && step > 0))) {
        const state = phase === 96 ? "raised" : "cleared";
        const firstSeq = state === "raised" ? step + 1 : step - 3;
        const alert = Object.freeze({
          schema: "reefer.alert.v1",
          alert_id: `${container}:temperature_excursion:${firstSeq}:${state}`,
          alert_type: "temperature_excursion",
          severity: "critical",
          state,
          container_id: container,
          gateway_id: gatewayId,
          product_id: "P01",
          first_seq: firstSeq,
          last_seq: step + 1,
          alert_time: time.toISOString(),
          since: new Date(
            start.getTime() + (firstSeq - 1) * options.intervalMinutes * 60_000,
          ).toISOString(),
          value: delivered.temperature as number,
          limit: 6,
          log_index: range.size,
        });
        range.append(leafHash(leafBytes(alert)));
        records.push(alert);
        afterLeaf();
      }
    }
  }
  // A graceful stop signs what it has (the agent does at SIGTERM).
  const signedUpTo = range.size;
  logGaps(new Date(start.getTime() + steps * options.intervalMinutes * 60_000));
  if (range.size !== signedUpTo || range.size % options.checkpointEvery !== 0)
    checkpoints.push(sign(range, origin, privateKey));
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
