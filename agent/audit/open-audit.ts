import type { Logger } from "pino";

import { checkpointKeyName, verifierKey } from "../../core/audit/checkpoint.js";
import type { AgentConfig } from "../../config/schema.js";
import type { Metrics } from "../../core/metrics.js";
import { auditTopic } from "../publisher/topics.js";
import { auditKeyFile } from "../settings-from-config.js";
import type { GuardedOutbox } from "../storage/guarded-outbox.js";
import { AuditSender } from "./audit-sender.js";
import { loadOrCreateCheckpointKey } from "./checkpoint-key.js";

/**
 * The audit log's gateway half, from the config: the checkpoint key loaded (or made, its verifier
 * key logged for registration), and a sender to build over the opened outbox. Null when the
 * log is off. Throws CheckpointKeyError when the key file cannot be used.
 */
export function openAudit(
  config: AgentConfig,
  logger: Logger,
  metrics: Metrics,
): { sender(outbox: GuardedOutbox): AuditSender } | null {
  const path = auditKeyFile(config);
  if (path === null) return null;
  const key = loadOrCreateCheckpointKey(path);
  const gatewayId = config.gateway.id;
  const signer = { name: checkpointKeyName(gatewayId), privateKey: key.privateKey };
  if (key.created)
    // Public: what an auditor is given to check this gateway's checkpoints.
    logger.info(
      { keyFile: path, verifierKey: verifierKey(signer.name, key.publicKey) },
      "made the checkpoint key of the audit log; register its verifier key with the thing",
    );
  return {
    sender: (outbox) =>
      new AuditSender(
        {
          signCheckpoint: () => outbox.onDisk((o) => o.audit?.signCheckpoint(signer)) ?? false,
          queued: (afterId, limit) => outbox.onDisk((o) => o.audit?.queued(afterId, limit)) ?? [],
          delivered: (ids) => outbox.onDisk((o) => o.audit?.delivered(ids)),
        },
        {
          topic: auditTopic(gatewayId),
          gatewayId,
          checkpointMs: config.audit.checkpointSeconds * 1000,
          logger,
          metrics,
        },
      ),
  };
}
