import { ConfigError, loadConfigFile } from "../../config/load.js";
import type { AgentConfig } from "../../config/schema.js";
import { loadTlsMaterial, type TlsMaterial } from "../../agent/publisher/tls.js";
import { checkBroker } from "./broker.js";
import { checkDevices } from "./devices.js";
import { checkClock, checkDisk, checkOutbox, checkSerialPorts } from "./local.js";
import { checkTlsFiles } from "./tls-files.js";
import { fail, pass, type Verdict } from "./verdict.js";

export interface DoctorReport {
  /** True when nothing failed (warnings and skips allowed). */
  readonly ok: boolean;
  readonly verdicts: readonly Verdict[];
}

export interface DoctorOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Per network step and per device read. */
  readonly timeoutMs: number;
  readonly now?: number;
}

/**
 * What a technician runs on site: every check with a verdict and a fix, in the order a
 * problem would show: the config, the TLS files, the clock, the serial ports and devices, the
 * outbox and its disk, then the way to the broker layer by layer.
 */
export async function runDoctor(file: string, options: DoctorOptions): Promise<DoctorReport> {
  const now = options.now ?? Date.now();
  let config: AgentConfig;
  try {
    config = loadConfigFile(file, options.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return report([
      fail(
        "config",
        error.message,
        "fix each path named above; `reefer-edge validate` says the same",
      ),
    ]);
  }
  const verdicts: Verdict[] = [
    pass("config", `${file}: gateway ${config.gateway.id}, ${config.containers.length} containers`),
  ];
  const tlsVerdicts = checkTlsFiles(config.mqtt, now);
  verdicts.push(...tlsVerdicts);
  // With a TLS file failed (said above), the broker checks stop before the handshake.
  let tls: TlsMaterial | null = null;
  if (tlsVerdicts.every((v) => v.status !== "fail")) {
    try {
      tls = loadTlsMaterial(config.mqtt, now);
    } catch {
      tls = null;
    }
  }
  verdicts.push(...checkClock(config, now));
  verdicts.push(...checkSerialPorts(config));
  const outbox = checkOutbox(config, now);
  verdicts.push(...outbox.verdicts);
  verdicts.push(...(await checkDevices(config, outbox.held, options.timeoutMs)));
  verdicts.push(...checkDisk(config));
  verdicts.push(
    ...(await checkBroker(config, tls, {
      mqttConnect: !outbox.held,
      timeoutMs: options.timeoutMs,
    })),
  );
  return report(verdicts);
}

function report(verdicts: Verdict[]): DoctorReport {
  return { ok: verdicts.every((v) => v.status !== "fail"), verdicts };
}

const MARK = { pass: "ok  ", warn: "warn", fail: "FAIL", skip: "skip" } as const;

/** The report as a technician reads it: a line a check, the fix indented under it. */
export function formatReport(r: DoctorReport): string {
  const lines = r.verdicts.flatMap((v) => [
    `${MARK[v.status]}  ${v.check}: ${v.detail}`,
    ...(v.fix === undefined ? [] : [`      -> ${v.fix}`]),
  ]);
  const failed = r.verdicts.filter((v) => v.status === "fail").length;
  lines.push(r.ok ? "all checks passed" : `${failed} check${failed === 1 ? "" : "s"} failed`);
  return lines.join("\n") + "\n";
}
