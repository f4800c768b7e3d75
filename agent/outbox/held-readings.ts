import type { AuditTrail } from "./audit-trail.js";
import type { CaptureBatch } from "./outbox-types.js";
import { LANE } from "./publish-queue.js";
import type { PublishSessions } from "./sessions.js";
import type { OutboxStore } from "./store.js";

/**
 * Report by exception's verdicts on held readings, inside the commit's transaction: promoted
 * ones move to the telemetry lane and become visible to the publisher; dropped ones are deleted,
 * counted, and declared to the audit log.
 */
export function resolveHeld(
  store: OutboxStore,
  sessions: PublishSessions,
  trail: AuditTrail | null,
  batch: CaptureBatch,
): void {
  for (const [containerId, seqs] of batch.promote ?? []) {
    for (const seq of seqs) {
      const id = store.promoteHeld(containerId, seq);
      if (id === null) continue; // evicted meanwhile
      // Make the row visible to the lane it now belongs to.
      sessions.reveal(id, LANE.telemetry, containerId);
    }
  }
  let dropped = 0;
  for (const [containerId, seqs] of batch.drop ?? []) {
    for (const seq of seqs) {
      const payload = store.dropHeld(containerId, seq);
      if (payload === null) continue; // evicted meanwhile
      trail?.dropping(payload, "dropped_by_exception");
      dropped++;
    }
  }
  store.count("dropped_by_exception", dropped);
}
