import type { TopicKind } from "../../core/events.js";

/** The topics of the wire contract (docs/wire-contract.md); AWS IoT rules select on them. */
export function topicFor(gatewayId: string, containerId: string, kind: TopicKind): string {
  return `dt/reefer/${gatewayId}/${containerId}/${kind}`;
}

/** Which messages go by AWS IoT Basic Ingest, and to which rule (`publish.basicIngest`). */
export type BasicIngestRules = Readonly<Partial<Record<"telemetry" | "backfill", string>>>;

/**
 * The topic a message of `kind` is published on: the contract's, or with AWS IoT Basic Ingest the
 * same behind `$aws/rules/<rule>/`. The broker then hands it straight to that one rule, with no
 * messaging charge and no subscriber; the rule's `topic(n)` still reads the contract's topic.
 */
export function publishTopic(
  gatewayId: string,
  containerId: string,
  kind: TopicKind,
  basicIngest: BasicIngestRules | undefined,
): string {
  const topic = topicFor(gatewayId, containerId, kind);
  const rule = kind === "alert" ? undefined : basicIngest?.[kind];
  return rule === undefined ? topic : `$aws/rules/${rule}/${topic}`;
}

/** The gateway's audit topic: its signed checkpoints and gap records (docs/audit-log.md). */
export function auditTopic(gatewayId: string): string {
  return `dt/reefer/${gatewayId}/audit`;
}

export const BACKFILL_SCHEMA = "reefer.backfill.v1";

const ENVELOPE_HEAD = `{"schema":"${BACKFILL_SCHEMA}","readings":[`;
const ENVELOPE_TAIL = "]}";

/** Bytes the envelope adds around its readings, besides one comma between each two. */
export const ENVELOPE_OVERHEAD_BYTES = ENVELOPE_HEAD.length + ENVELOPE_TAIL.length;

/**
 * The backfill envelope `{"schema":"reefer.backfill.v1","readings":[...]}`, built from the
 * stored JSON of each reading without parsing it again.
 */
export function backfillEnvelope(payloads: readonly string[]): string {
  return ENVELOPE_HEAD + payloads.join(",") + ENVELOPE_TAIL;
}
