import { createPrivateKey, createPublicKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";

import {
  CHECKPOINT_SCHEMA,
  checkpointKeyName,
  checkpointOrigin,
  parseVerifierKey,
  verifierKey,
} from "../../core/audit/checkpoint.js";
import { LOG_ID_FIELD, logKeyOf } from "../../core/audit/leaf.js";
import { verifyLog, type LoggedRecord } from "../../core/audit/verify-log.js";

/** What the audit logs of the gateways a rig ran say, read from what the broker delivered. */
export interface AuditLogsVerdict {
  /** Logs seen (a gateway starts a new one with a new outbox file, or after an unclean stop). */
  readonly logs: number;
  /** Leaves proven by a signed checkpoint, over every log. */
  readonly verifiedLeaves: number;
  /** Readings delivered without a log index. */
  readonly unlogged: number;
  /** Where a log is altered or a checkpoint does not open, per log: must stay empty. */
  readonly problems: string[];
}

/**
 * Verifies each gateway's audit logs as an auditor would (`reefer-edge audit verify`), over what
 * the monitoring subscriber received: the readings, alerts and gap records as leaves, the checkpoints
 * from the audit topic, the gateway's own checkpoint key. A power cut may leave a log's newest
 * leaves without a checkpoint or lose readings the log covers (write-behind loses what was
 * neither acknowledged nor written); it must never make a log look altered.
 */
export function judgeAuditLogs(
  gateways: readonly string[],
  /** The readings and alerts delivered: leaves of the logs, with the gap records. */
  readings: readonly LoggedRecord[],
  auditMessages: readonly Readonly<Record<string, unknown>>[],
  keyFileOf: (gateway: string) => string,
): AuditLogsVerdict {
  const notes = new Map<string, string[]>();
  const leaves: LoggedRecord[] = [...readings];
  for (const message of auditMessages) {
    if (message.schema === CHECKPOINT_SCHEMA) {
      const note = String(message.note);
      const origin = note.slice(0, note.indexOf("\n"));
      notes.set(origin, [...(notes.get(origin) ?? []), note]);
    } else leaves.push(message);
  }
  const byLog = new Map<string, LoggedRecord[]>();
  for (const record of leaves) {
    if (!gateways.includes(String(record.gateway_id))) continue;
    const key = logKeyOf(record);
    byLog.set(key, [...(byLog.get(key) ?? []), record]);
  }
  const problems: string[] = [];
  let verifiedLeaves = 0;
  let unlogged = 0;
  for (const records of byLog.values()) {
    const first = records[0];
    if (first === undefined) continue;
    const gateway = String(first.gateway_id);
    const logId = first[LOG_ID_FIELD];
    const origin = checkpointOrigin(gateway, typeof logId === "string" ? logId : undefined);
    const keyFile = keyFileOf(gateway);
    if (!existsSync(keyFile)) {
      problems.push(`${origin}: no checkpoint key at ${keyFile}`);
      continue;
    }
    const publicKey = createPublicKey(createPrivateKey(readFileSync(keyFile)));
    const verifier = parseVerifierKey(verifierKey(checkpointKeyName(gateway), publicKey));
    const verdict = verifyLog(origin, records, notes.get(origin) ?? [], verifier);
    verifiedLeaves += verdict.verifiedSize;
    unlogged += verdict.unlogged;
    if (verdict.altered !== null)
      problems.push(
        `${origin}: altered at [${verdict.altered.from}, ${verdict.altered.to}): ${verdict.alteredBecause.join("; ")}`,
      );
    for (const rejected of verdict.rejectedCheckpoints) problems.push(`${origin}: ${rejected}`);
  }
  return { logs: byLog.size, verifiedLeaves, unlogged, problems };
}
