import { App, Stack } from "aws-cdk-lib";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildApp, FEATURE_FLAGS } from "../bin/app.js";

/**
 * Two stages in one account and region (`-c stage=`): every name that AWS holds unique in an
 * account and region must differ between them, and an app without a stage keeps today's names.
 */
type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/**
 * Physical names, by the properties that carry them, as "type property=value". Not names:
 * metric and dimension names, IAM inline policies' names (unique per role, not per account),
 * SNS display names, Athena saved queries' names (unique per workgroup).
 */
const NOT_UNIQUE = new Set([
  "MetricName",
  "PolicyName:AWS::IAM::Policy",
  "DisplayName",
  "Name:AWS::Athena::NamedQuery",
]);

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function physicalNames(context: Record<string, string>): Set<string> {
  const outdir = mkdtempSync(join(tmpdir(), "reefer-stage-"));
  dirs.push(outdir);
  const app = buildApp(new App({ outdir, context: { ...FEATURE_FLAGS, ...context } }));
  const assembly = app.synth();
  const names = new Set<string>();
  for (const child of app.node.children) {
    if (!(child instanceof Stack)) continue;
    names.add(`stack ${child.stackName}`);
    const { Resources: resources } = assembly.getStackByName(child.stackName).template as {
      Resources: Resources;
    };
    for (const resource of Object.values(resources)) {
      const props = resource.Properties ?? {};
      for (const [key, value] of Object.entries(props)) {
        const named = /(Name|Id)$/.test(key) && !/^(CatalogId|AccountId|KmsKeyId)$/.test(key);
        if (!named || NOT_UNIQUE.has(key) || NOT_UNIQUE.has(`${key}:${resource.Type}`)) continue;
        if (typeof value === "string") names.add(`${resource.Type} ${key}=${value}`);
      }
      // The Glue database's name sits one level down.
      const input = props.DatabaseInput as { Name?: unknown } | undefined;
      if (typeof input?.Name === "string")
        names.add(`${resource.Type} DatabaseInput.Name=${input.Name}`);
    }
  }
  return names;
}

describe("stages in one account (-c stage=)", () => {
  it("gives two stages no physical name in common, IoT's account-wide logging owned by one", () => {
    const dev = physicalNames({ stage: "dev" });
    const prod = physicalNames({ stage: "prod", iotLogging: "true" });
    const shared = [...dev].filter((name) => {
      const [type, rest = ""] = name.split(" ");
      return [...prod].some((other) => other === `${type} ${rest}`);
    });
    expect(shared).toEqual([]);
    // What a stage names, it names with its prefix.
    expect(dev).toContain("AWS::IoT::TopicRule RuleName=dev_reefer_telemetry_to_kinesis");
    expect(dev).toContain("AWS::Kinesis::Stream Name=dev-telemetries");
    expect(dev).toContain("AWS::IoT::Policy PolicyName=dev-reefer-gateway");
    expect(dev).toContain("AWS::Glue::Database DatabaseInput.Name=dev_reefer_lake");
    expect(dev).toContain("stack DevReeferIngest");
    // The account's IoT logging: in prod (asked for), not in dev.
    expect(prod).toContain("AWS::Logs::LogGroup LogGroupName=AWSIotLogsV2");
    expect(dev).not.toContain("AWS::Logs::LogGroup LogGroupName=AWSIotLogsV2");
  }, 300_000);

  it("keeps today's names without a stage, and refuses a stage no name alphabet takes", () => {
    const today = physicalNames({});
    expect(today).toContain("AWS::IoT::TopicRule RuleName=reefer_telemetry_to_kinesis");
    expect(today).toContain("AWS::Kinesis::Stream Name=telemetries");
    expect(today).toContain("AWS::Logs::LogGroup LogGroupName=AWSIotLogsV2");
    expect(today).toContain("stack ReeferIngest");
    expect(() => physicalNames({ stage: "Dev-1" })).toThrow(
      "context stage=Dev-1: a stage is 1-10 lowercase letters and digits, starting with a letter",
    );
  }, 300_000);
});
