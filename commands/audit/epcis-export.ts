import { parseArgs } from "node:util";
import { writeFileSync } from "node:fs";

import {
  DEFAULT_EPCIS_IDS,
  epcisDocument,
  epcisEventOf,
  type EpcisEvent,
  type EpcisIds,
} from "../../core/audit/epcis.js";
import { LOG_INDEX_FIELD } from "../../core/audit/leaf.js";
import type { LoggedRecord } from "../../core/audit/verify-log.js";
import { EXIT_USAGE } from "../command.js";
import { readLakeRecords } from "./lake-folder.js";

export const EXPORT_USAGE = `reefer-edge audit export --lake DIR --container ID [--container ID]...
         [--from TIME] [--to TIME] [--out FILE] [--container-prefix URI] [--gateway-prefix URI]
         the voyage's readings as GS1 EPCIS 2.0 sensor events, each eventID its event hash`;

/**
 * The readings of `containers` in [from, to) as EPCIS events, in time order: each reading once
 * (the lake may hold it twice; the copy in the audit log wins over one outside it), gap records
 * and audit messages left out.
 */
export function voyageEvents(
  records: readonly LoggedRecord[],
  containers: readonly string[],
  window: { from: Date | null; to: Date | null },
  ids: EpcisIds = DEFAULT_EPCIS_IDS,
): EpcisEvent[] {
  const wanted = new Set(containers);
  const from = window.from?.getTime() ?? -Infinity;
  const to = window.to?.getTime() ?? Infinity;
  const chosen = new Map<string, LoggedRecord>();
  for (const record of records) {
    if (record.schema !== undefined || typeof record.container_id !== "string") continue;
    if (!wanted.has(record.container_id) || typeof record.measurement_time !== "string") continue;
    const time = Date.parse(record.measurement_time);
    if (!(time >= from && time < to)) continue;
    const key = `${String(record.gateway_id)} ${record.container_id} ${String(record.seq)}`;
    const seen = chosen.get(key);
    if (
      seen === undefined ||
      (seen[LOG_INDEX_FIELD] === undefined && record[LOG_INDEX_FIELD] !== undefined)
    )
      chosen.set(key, record);
  }
  return [...chosen.values()]
    .map((record) => ({ record, time: Date.parse(String(record.measurement_time)) }))
    .sort((a, b) => a.time - b.time || Number(a.record.seq) - Number(b.record.seq))
    .map(({ record }) => {
      try {
        return epcisEventOf(record, ids);
      } catch (error) {
        throw new Error(
          `seq ${String(record.seq)} of ${String(record.container_id)}: ${(error as Error).message}`,
        );
      }
    });
}

/** `audit export`: writes the document; 0 when written, 2 on a usage error. */
export function exportCommand(args: string[], now = new Date()): number {
  try {
    const { values } = parseArgs({
      args,
      options: {
        lake: { type: "string" },
        container: { type: "string", multiple: true },
        from: { type: "string" },
        to: { type: "string" },
        out: { type: "string" },
        "container-prefix": { type: "string" },
        "gateway-prefix": { type: "string" },
      },
    });
    if (!values.lake || !values.container?.length)
      throw new Error("--lake and at least one --container are needed");
    const window = { from: time(values.from, "--from"), to: time(values.to, "--to") };
    const ids = {
      containerPrefix: values["container-prefix"] ?? DEFAULT_EPCIS_IDS.containerPrefix,
      gatewayPrefix: values["gateway-prefix"] ?? DEFAULT_EPCIS_IDS.gatewayPrefix,
    };
    const lake = readLakeRecords(values.lake);
    const events = voyageEvents(lake.records, values.container, window, ids);
    const text = `${JSON.stringify(epcisDocument(events, now), null, 2)}\n`;
    if (values.out) writeFileSync(values.out, text);
    else process.stdout.write(text);
    process.stderr.write(
      `audit export: ${events.length} events${values.out ? ` to ${values.out}` : ""}\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`audit export: ${(error as Error).message}\nusage: ${EXPORT_USAGE}\n`);
    return EXIT_USAGE;
  }
}

function time(value: string | undefined, flag: string): Date | null {
  if (value === undefined) return null;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new Error(`${flag} ${value}: not a time (ISO 8601)`);
  return at;
}
