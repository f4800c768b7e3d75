import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import {
  checkpointKeyName,
  checkpointOrigin,
  parseVerifierKey,
  verifierKeyFromHex,
  type NoteVerifier,
} from "../core/audit/checkpoint.js";
import { LOG_ID_FIELD, logKeyOf } from "../core/audit/leaf.js";
import { verifyLog, type LoggedRecord, type LogVerdict } from "../core/audit/verify-log.js";
import { voyageReport, type TemperatureRange, type VoyageReport } from "../core/audit/voyage.js";
import { EXPORT_USAGE, exportCommand } from "./audit/epcis-export.js";
import { readAuditFolder, readLakeRecords } from "./audit/lake-folder.js";
import { EXIT_USAGE } from "./command.js";

const USAGE = `usage: reefer-edge audit verify --lake DIR --checkpoints DIR --keys FILE
         [--container ID]... [--from TIME] [--to TIME] [--range LOW:HIGH] [--json]
       reefer-edge audit key --gateway ID --hex HEX
         the gateway's verifier key line for --keys, from the checkpoint_key its thing holds
       ${EXPORT_USAGE}`;

/** The verdict's exit codes, for an auditor's script. */
export const EXIT_VERIFIED = 0;
export const EXIT_NOT_VERIFIED = 1;

type AuditReport = {
  verified: boolean;
  files: number;
  records: number;
  unreadable: string[];
  gateways: (Omit<LogVerdict, "dropped"> & {
    gatewayId: string;
    key: boolean;
    /** The verdict's dropped runs, as JSON can hold them: leaves, reason, seqs per container. */
    dropped: {
      from: number;
      to: number;
      reason: string;
      readings: Record<string, readonly [number, number][]>;
    }[];
  })[];
  containers: VoyageReport[];
};

/**
 * `audit verify`: whether each container's cold chain in a time range is complete and unaltered,
 * from the lake's records and the gateways' signed checkpoints (docs/audit-log.md). Exits 0 when
 * every container asked about is complete and intact, 1 when not, 2 on a usage error.
 */
export function run(args: string[]): number {
  const [action, ...rest] = args;
  if (action === "key") return keyLine(rest);
  if (action === "export") return exportCommand(rest);
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        lake: { type: "string" },
        checkpoints: { type: "string" },
        keys: { type: "string" },
        container: { type: "string", multiple: true },
        from: { type: "string" },
        to: { type: "string" },
        range: { type: "string" },
        json: { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`audit: ${(error as Error).message}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const { lake, checkpoints, keys } = values;
  if (action !== "verify" || !lake || !checkpoints || !keys) {
    process.stderr.write(`${USAGE}\n`);
    return EXIT_USAGE;
  }
  let options;
  try {
    options = {
      from: time(values.from, "--from"),
      to: time(values.to, "--to"),
      range: temperatureRange(values.range),
      verifiers: readKeys(keys),
    };
  } catch (error) {
    process.stderr.write(`audit: ${(error as Error).message}\n`);
    return EXIT_USAGE;
  }
  let report: AuditReport;
  try {
    report = audit(lake, checkpoints, values.container ?? [], options);
  } catch (error) {
    process.stderr.write(`audit: ${(error as Error).message}\n`);
    return EXIT_USAGE;
  }
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + "\n" : describe(report));
  return report.verified ? EXIT_VERIFIED : EXIT_NOT_VERIFIED;
}

function audit(
  lakeDir: string,
  checkpointDir: string,
  containers: readonly string[],
  options: {
    from: Date | null;
    to: Date | null;
    range: TemperatureRange | undefined;
    verifiers: Map<string, NoteVerifier>;
  },
): AuditReport {
  const readings = readLakeRecords(lakeDir);
  const auditFolder = readAuditFolder(checkpointDir);
  const notes = auditFolder.notes;
  // The gap records and the alerts are leaves of the logs like the readings; the ledger keeps
  // them with the checkpoints.
  const lake = {
    ...readings,
    records: [...readings.records, ...auditFolder.leaves],
    unreadable: [...readings.unreadable, ...auditFolder.unreadable],
  };
  // Log by log: a gateway keeps one per outbox file (LOG_ID_FIELD), all signed by its key.
  const byLog = new Map<string, { gatewayId: string; logId?: string; records: LoggedRecord[] }>();
  for (const record of lake.records) {
    const key = logKeyOf(record);
    let log = byLog.get(key);
    if (log === undefined) {
      const logId = record[LOG_ID_FIELD];
      log = {
        gatewayId: String(record.gateway_id),
        ...(typeof logId === "string" && { logId }),
        records: [],
      };
      byLog.set(key, log);
    }
    log.records.push(record);
  }
  const gateways: AuditReport["gateways"] = [];
  const verdicts = new Map<string, LogVerdict>();
  for (const [key, { gatewayId, logId, records }] of [...byLog].sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    const origin = checkpointOrigin(gatewayId, logId);
    const verifier = options.verifiers.get(checkpointKeyName(gatewayId));
    const verdict: LogVerdict = verifier
      ? verifyLog(origin, records, notes.get(origin) ?? [], verifier)
      : {
          origin,
          leaves: records.length,
          checkpoints: 0,
          verifiedSize: 0,
          missing: [],
          altered: { from: 0, to: Number.MAX_SAFE_INTEGER },
          alteredBecause: [
            `no checkpoint key for gateway ${gatewayId}: nothing of it can be verified`,
          ],
          unverifiedTail: null,
          rejectedCheckpoints: [],
          dropped: [],
          coveredByGap: [],
          unreachableCheckpoints: 0,
          unlogged: 0,
        };
    verdicts.set(key, verdict);
    gateways.push({
      gatewayId: key,
      key: verifier !== undefined,
      ...verdict,
      dropped: verdict.dropped.map(({ from, to, reason, readings }) => ({
        from,
        to,
        reason,
        readings: Object.fromEntries(readings),
      })),
    });
  }
  const asked =
    containers.length > 0
      ? containers
      : [
          ...new Set(
            lake.records.flatMap((r) =>
              typeof r.container_id === "string" ? [r.container_id] : [],
            ),
          ),
        ].sort();
  // Without --from and --to: the whole span of the lake's readings.
  let first = Infinity;
  let last = -Infinity;
  for (const r of lake.records) {
    const t = typeof r.measurement_time === "string" ? Date.parse(r.measurement_time) : NaN;
    if (Number.isNaN(t)) continue;
    first = Math.min(first, t);
    last = Math.max(last, t);
  }
  const from = options.from ?? new Date(Number.isFinite(first) ? first : 0);
  const to = options.to ?? new Date(Number.isFinite(last) ? last + 1 : 0);
  const reports = asked.map((id) =>
    voyageReport(id, { from, to }, lake.records, verdicts, options.range),
  );
  return {
    verified:
      lake.unreadable.length === 0 &&
      reports.every((r) => r.complete && r.intact && r.unverified.length === 0 && r.readings > 0),
    files: lake.files,
    records: lake.records.length,
    unreadable: lake.unreadable,
    gateways,
    containers: reports,
  };
}

/** Alerts named per container in the text report; --json has them all. */
const MAX_ALERT_LINES = 20;

function describe(report: AuditReport): string {
  const lines = [`audit: ${report.records} records in ${report.files} files`];
  for (const line of report.unreadable.slice(0, 10)) lines.push(`  unreadable: ${line}`);
  for (const g of report.gateways) {
    lines.push(
      `gateway ${g.gatewayId}: ${g.leaves} leaves, ${g.checkpoints} checkpoints, verified to leaf ${g.verifiedSize}`,
    );
    for (const hole of g.missing) lines.push(`  missing leaves ${hole.from}-${hole.to - 1}`);
    if (g.dropped.length > 0) {
      const reasons = new Map<string, number>();
      for (const run of g.dropped)
        reasons.set(run.reason, (reasons.get(run.reason) ?? 0) + run.to - run.from);
      const said = [...reasons].map(([reason, n]) => `${n} ${reason}`).join(", ");
      lines.push(`  dropped on the gateway, declared in its gap records: ${said}`);
    }
    if (g.altered)
      lines.push(`  ALTERED from leaf ${g.altered.from}: ${g.alteredBecause.join("; ")}`);
    if (g.unverifiedTail)
      lines.push(`  leaves ${g.unverifiedTail.from}-${g.unverifiedTail.to - 1}: no checkpoint yet`);
  }
  for (const c of report.containers) {
    const verdict =
      `${c.complete ? "complete" : "INCOMPLETE"}, ${c.intact ? "intact" : "ALTERED"}` +
      (c.unverifiedReadings > 0 ? `, ${c.unverifiedReadings} UNVERIFIED` : "");
    lines.push(
      `container ${c.containerId} ${c.from} to ${c.to}: ${c.readings} readings; ${verdict}`,
    );
    for (const m of c.missing) lines.push(`  missing: ${m}`);
    for (const a of c.altered) lines.push(`  altered: ${a}`);
    for (const u of c.unverified) lines.push(`  unverified: ${u}`);
    for (const a of c.alerts.slice(0, MAX_ALERT_LINES))
      lines.push(
        `  alert: ${a.time} ${a.type} ${a.state} (${a.severity})${a.verified ? "" : ", UNVERIFIED"}`,
      );
    if (c.alerts.length > MAX_ALERT_LINES)
      lines.push(`  alerts: ${c.alerts.length - MAX_ALERT_LINES} more in --json`);
    const t = c.temperature;
    const against = t.range
      ? `${t.range.low}..${t.range.high} °C`
      : "each reading's setpoint ± 2 °C";
    lines.push(
      `  temperature: min ${t.min ?? "-"} °C, max ${t.max ?? "-"} °C; ${(t.secondsOutOfRange / 60).toFixed(1)} min out of ${against}`,
    );
  }
  lines.push(`verdict: ${report.verified ? "VERIFIED" : "NOT VERIFIED"}`);
  return lines.join("\n") + "\n";
}

function time(value: string | undefined, flag: string): Date | null {
  if (value === undefined) return null;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new Error(`${flag} ${value}: not a time (ISO 8601)`);
  return at;
}

function temperatureRange(value: string | undefined): TemperatureRange | undefined {
  if (value === undefined) return undefined;
  const match = /^(-?\d+(?:\.\d+)?):(-?\d+(?:\.\d+)?)$/.exec(value);
  const low = Number(match?.[1]);
  const high = Number(match?.[2]);
  if (!match || !(low < high)) throw new Error(`--range ${value}: LOW:HIGH in °C, LOW below HIGH`);
  return { low, high };
}

/** The gateways' verifier keys, one a line (as provisioning registered them); by key name. */
function readKeys(file: string): Map<string, NoteVerifier> {
  const verifiers = new Map<string, NoteVerifier>();
  for (const [i, line] of readFileSync(file, "utf8").split("\n").entries()) {
    const key = line.trim();
    if (key === "" || key.startsWith("#")) continue;
    try {
      const verifier = parseVerifierKey(key);
      verifiers.set(verifier.name, verifier);
    } catch (error) {
      throw new Error(`${file}:${i + 1}: ${(error as Error).message}`);
    }
  }
  return verifiers;
}

/** `audit key`: a verifier key line from a thing's registered `checkpoint_key`. */
function keyLine(args: string[]): number {
  try {
    const { values } = parseArgs({
      args,
      options: { gateway: { type: "string" }, hex: { type: "string" } },
    });
    if (!values.gateway || !values.hex) throw new Error("--gateway and --hex are needed");
    process.stdout.write(`${verifierKeyFromHex(values.gateway, values.hex)}\n`);
    return EXIT_VERIFIED;
  } catch (error) {
    process.stderr.write(`audit: ${(error as Error).message}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
}
