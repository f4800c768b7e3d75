import { parseArgs } from "node:util";
import { IoTClient } from "@aws-sdk/client-iot";
import { S3Client } from "@aws-sdk/client-s3";
import { describeProgress, jobProgress, release, type ReleaseRequest } from "./release.js";

export const RELEASE_USAGE = `  reefer-edge cloud release --package FILE.deb --version V --signing-key KEY.pem
                      --bucket B --thing-group G
                      (--template reefer-edge-update | --presign-role ARN [--rate 10]
                       [--increment 2] [--succeeded-to-increase 10] [--abort-failed-percent 5]
                       [--abort-min-executed 100] [--timeout-minutes 120])
                      [--prefix releases/] [--job-id ID] [--watch] [--every SECONDS]
                      signs and uploads a package, and creates its update job (docs/updates.md):
                      from the release stack's job template, or with the rollout given here
  reefer-edge cloud job --job-id ID [--watch] [--every SECONDS]
                      an update job's progress: succeeded, failed, timed out, in progress`;

type Output = (text: string) => void;

const TERMINAL = new Set(["COMPLETED", "CANCELED", "DELETION_IN_PROGRESS"]);

/** `reefer-edge cloud release` and `reefer-edge cloud job`; the exit code. */
export async function releaseCommand(
  verb: "release" | "job",
  args: string[],
  out: Output,
  err: Output,
  clients: { iot?: IoTClient; s3?: S3Client } = {},
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        package: { type: "string" },
        version: { type: "string" },
        "signing-key": { type: "string" },
        bucket: { type: "string" },
        prefix: { type: "string", default: "releases/" },
        "thing-group": { type: "string" },
        "presign-role": { type: "string" },
        template: { type: "string" },
        "job-id": { type: "string" },
        rate: { type: "string", default: "10" },
        increment: { type: "string", default: "2" },
        "succeeded-to-increase": { type: "string", default: "10" },
        "abort-failed-percent": { type: "string", default: "5" },
        "abort-min-executed": { type: "string", default: "100" },
        "timeout-minutes": { type: "string", default: "120" },
        watch: { type: "boolean", default: false },
        every: { type: "string", default: "30" },
        region: { type: "string" },
        json: { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    err(`${verb}: ${(error as Error).message}\n\n${RELEASE_USAGE}\n`);
    return 2;
  }
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const iot = clients.iot ?? new IoTClient({ ...(region && { region }) });
  const print = (human: string, data: unknown) =>
    out(values.json ? `${JSON.stringify(data)}\n` : `${human}\n`);
  const number = (name: keyof typeof values, min: number, max: number): number => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new Error(
        `--${name}: expected a number from ${min} to ${max}, got ${String(values[name])}`,
      );
    }
    return value;
  };

  let jobId = values["job-id"];
  try {
    if (verb === "release") {
      const needed = ["package", "version", "signing-key", "bucket", "thing-group"];
      if (values.template === undefined) needed.push("presign-role");
      const missing = needed
        .filter((name) => values[name as keyof typeof values] === undefined)
        .map((name) => `--${name}`);
      if (missing.length > 0) {
        err(`release: missing ${missing.join(", ")}\n\n${RELEASE_USAGE}\n`);
        return 2;
      }
      const version = values.version ?? "";
      jobId ??= `reefer-edge-${version.replace(/[^A-Za-z0-9_-]/g, "-")}-${Date.now()}`;
      const request: ReleaseRequest = {
        packageFile: values.package ?? "",
        version,
        signingKeyFile: values["signing-key"] ?? "",
        bucket: values.bucket ?? "",
        prefix: values.prefix,
        thingGroup: values["thing-group"] ?? "",
        presignRoleArn: values["presign-role"] ?? "",
        ...(values.template !== undefined && { template: values.template }),
        jobId,
        rollout: {
          baseRatePerMinute: number("rate", 1, 1000),
          incrementFactor: number("increment", 1.1, 5),
          succeededToIncrease: number("succeeded-to-increase", 1, 1_000_000),
        },
        abort: {
          failedPercent: number("abort-failed-percent", 0, 100),
          minExecuted: number("abort-min-executed", 1, 1_000_000),
        },
        inProgressTimeoutMinutes: number("timeout-minutes", 1, 10_080),
      };
      const s3 = clients.s3 ?? new S3Client({ ...(region && { region }) });
      const released = await release(request, { iot, s3 });
      const pace =
        released.template !== null
          ? `its rollout, abort and timeout from the job template ${released.template}`
          : `${request.rollout.baseRatePerMinute}/min growing x${request.rollout.incrementFactor} per ${request.rollout.succeededToIncrease} succeeded, cancelled at ${request.abort.failedPercent} % failed after ${request.abort.minExecuted}`;
      print(
        `released ${version}: s3://${request.bucket}/${released.object} (${released.size} bytes, sha256 ${released.sha256}), job ${released.jobId} for ${request.thingGroup}: ${pace}`,
        released,
      );
    } else if (jobId === undefined) {
      err(`job: name it with --job-id ID\n\n${RELEASE_USAGE}\n`);
      return 2;
    }
    const every = number("every", 1, 3600) * 1000;
    for (;;) {
      const progress = await jobProgress(iot, jobId);
      print(describeProgress(jobId, progress), { jobId, ...progress });
      if (!values.watch || TERMINAL.has(progress.status)) {
        return progress.status === "CANCELED" ? 1 : 0;
      }
      await new Promise((resolve) => setTimeout(resolve, every));
    }
  } catch (error) {
    err(`${verb}: ${(error as Error).message}\n`);
    return 1;
  }
}
