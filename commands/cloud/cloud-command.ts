import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { desiredFromSets } from "./desired-settings.js";
import { CloudShadows, type ShadowDocument } from "./shadow-client.js";
import { releaseCommand, RELEASE_USAGE } from "./release-command.js";

export const CLOUD_USAGE = `reefer-edge cloud: the operator's commands, through AWS IoT's data plane

  reefer-edge cloud config set (--gateway ID[,ID...] | --gateways FILE) --set PATH=VALUE ...
                      desired settings of the config shadow (sampling.intervalMs, rules...)
  reefer-edge cloud config show --gateway ID     desired, applied (and its version), refusals
  reefer-edge cloud health --gateway ID          the gateway's last health report
  reefer-edge cloud list [--gateways FILE] [--backlog] [--clock-untrusted]
                      gateways by health: every thing of the account unless a file names them
  reefer-edge cloud send --gateway ID --command NAME [--payload JSON]
                      publishes to cmd/reefer/<gateway>/<command>
${RELEASE_USAGE}

  Every command: --endpoint URL (the account's iot:Data-ATS endpoint; or AWS_ENDPOINT_URL_IOT_DATA_PLANE),
  --region R, --json. Credentials come from the AWS SDK's usual chain.`;

type Output = (text: string) => void;

/** Runs one `reefer-edge cloud ...` command; the exit code. */
export async function cloudCommand(args: string[], out: Output, err: Output): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === "release" || verb === "job") return releaseCommand(verb, rest, out, err);
  const sub = verb === "config" ? rest[0] : undefined;
  const { values } = parseArgs({
    args: verb === "config" ? rest.slice(1) : rest,
    options: {
      gateway: { type: "string" },
      gateways: { type: "string" },
      set: { type: "string", multiple: true },
      command: { type: "string" },
      payload: { type: "string" },
      backlog: { type: "boolean", default: false },
      "clock-untrusted": { type: "boolean", default: false },
      endpoint: { type: "string" },
      region: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const cloud = new CloudShadows({ endpoint: values.endpoint, region: values.region });
  const print = (human: string, data: unknown) => {
    out(values.json ? JSON.stringify(data) + "\n" : human + "\n");
  };
  const gateways = (): string[] => {
    if (values.gateways !== undefined) {
      return readFileSync(values.gateways, "utf8")
        .split(/\s+/)
        .filter((id) => id.length > 0 && !id.startsWith("#"));
    }
    return (values.gateway ?? "").split(",").filter((id) => id.length > 0);
  };
  if (verb === "config" && sub === "set") {
    const targets = gateways();
    if (targets.length === 0 || !values.set?.length) {
      err("config set: name the gateways (--gateway or --gateways) and at least one --set\n");
      return 2;
    }
    let desired: Record<string, unknown>;
    try {
      desired = desiredFromSets(values.set);
    } catch (error) {
      err(`${(error as Error).message}\n`);
      return 2;
    }
    const results: { gateway: string; version?: number; error?: string }[] = [];
    for (const gateway of targets) {
      try {
        results.push({ gateway, version: await cloud.desire(gateway, "config", desired) });
      } catch (error) {
        results.push({ gateway, error: (error as Error).message });
      }
    }
    print(
      results
        .map((r) =>
          r.error
            ? `${r.gateway}: failed: ${r.error}`
            : `${r.gateway}: desired, version ${r.version}`,
        )
        .join("\n"),
      results,
    );
    return results.some((r) => r.error) ? 1 : 0;
  }
  if ((verb === "config" && sub === "show") || verb === "health") {
    const gateway = values.gateway;
    if (!gateway) {
      err(`${verb}: name the gateway with --gateway ID\n`);
      return 2;
    }
    const document = await cloud.get(gateway, verb === "health" ? "health" : "config");
    if (!document) {
      print(`${gateway}: no ${verb === "health" ? "health" : "config"} shadow yet`, null);
      return 1;
    }
    print(
      verb === "health" ? describeHealth(gateway, document) : describeConfig(gateway, document),
      document,
    );
    return 0;
  }
  if (verb === "list") {
    const targets = values.gateways !== undefined ? gateways() : await cloud.things();
    const rows: {
      gateway: string;
      depth: number | null;
      oldestAgeSeconds: number | null;
      clock: string;
    }[] = [];
    for (const gateway of targets) {
      const reported = (await cloud.get(gateway, "health"))?.state.reported;
      const outbox = reported?.outbox as { depth?: number; oldestAgeSeconds?: number } | undefined;
      const row = {
        gateway,
        depth: outbox?.depth ?? null,
        oldestAgeSeconds: outbox?.oldestAgeSeconds ?? null,
        clock: typeof reported?.clock === "string" ? reported.clock : "unknown",
      };
      const backlog = (row.depth ?? 0) > 0;
      const untrusted = row.clock === "unsynced";
      if (
        (values.backlog || values["clock-untrusted"]) &&
        !((values.backlog && backlog) || (values["clock-untrusted"] && untrusted))
      )
        continue;
      rows.push(row);
    }
    print(
      [
        "gateway                         backlog  oldest s  clock",
        ...rows.map(
          (r) =>
            `${r.gateway.padEnd(32)}${text(r.depth, "—").padStart(7)}  ${text(r.oldestAgeSeconds, "—").padStart(8)}  ${r.clock}`,
        ),
      ].join("\n"),
      rows,
    );
    return 0;
  }
  if (verb === "send") {
    const gateway = values.gateway;
    const command = values.command;
    if (!gateway || !command || !/^[A-Za-z0-9_-]+$/.test(command)) {
      err("send: --gateway ID --command NAME (letters, digits, _ and -) [--payload JSON]\n");
      return 2;
    }
    const payload = values.payload ?? "{}";
    try {
      JSON.parse(payload);
    } catch {
      err("send: --payload must be JSON\n");
      return 2;
    }
    const topic = `cmd/reefer/${gateway}/${command}`;
    await cloud.publish(topic, payload);
    print(`published to ${topic}`, { topic });
    return 0;
  }
  err(`${CLOUD_USAGE}\n`);
  return 2;
}

function describeConfig(gateway: string, document: ShadowDocument): string {
  const { desired, reported, delta } = document.state;
  const refused = reported?.refused as
    { version: number | null; problems: { path: string; message: string }[] } | undefined;
  const applied = { ...reported };
  delete applied.refused;
  delete applied.configVersion;
  return [
    `${gateway}: config shadow version ${document.version}`,
    `  desired:  ${JSON.stringify(desired ?? {})}`,
    `  applied:  ${JSON.stringify(applied)} (version ${text(reported?.configVersion, "none")})`,
    delta ? `  pending:  ${JSON.stringify(delta)}` : "  pending:  nothing",
    ...(refused
      ? [
          `  refused (version ${String(refused.version)}):`,
          ...refused.problems.map((p) => `    ${p.path || "(document)"}: ${p.message}`),
        ]
      : []),
  ].join("\n");
}

function describeHealth(gateway: string, document: ShadowDocument): string {
  const r = document.state.reported ?? {};
  const outbox = (r.outbox ?? {}) as Record<string, unknown>;
  return [
    `${gateway}: health reported ${text(r.reportedAt, "?")} (agent ${text(r.agentVersion, "?")}, up ${text(r.uptimeSeconds, "?")} s)`,
    `  outbox: ${text(outbox.depth, "?")} waiting, ${text(outbox.bytes, "?")} bytes, oldest ${text(outbox.oldestAgeSeconds, "—")} s, ${text(outbox.evicted, 0)} evicted, ${text(outbox.deadLettered, 0)} dead letters`,
    `  clock: ${text(r.clock, "?")}; last delivery ${text(r.lastDeliveryAt, "—")}`,
    `  unreachable: ${JSON.stringify(r.unreachable ?? [])}; devices: ${JSON.stringify(r.devices ?? {})}`,
  ].join("\n");
}

/** A reported value as text: a missing one as `fallback`, an object as JSON. */
function text(value: unknown, fallback: string | number): string {
  if (value === null || value === undefined) return String(fallback);
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
    return String(value);
  return JSON.stringify(value);
}
