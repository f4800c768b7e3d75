import { generateKeyPairSync, randomBytes, createHash } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CreateJobTemplateCommand,
  CreateThingGroupCommand,
  DescribeJobCommand,
  IoTClient,
} from "@aws-sdk/client-iot";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkJobDocument } from "../../agent/update/job-document.js";
import { runCli } from "../support/cli.js";
import { MotoServer, requireMoto } from "../support/moto.js";
import { makeTempDir } from "../support/tmp.js";

const moto = requireMoto();
const BUCKET = "reefer-edge-releases";
const GROUP = "reefers-at-sea";
const ROLE = "arn:aws:iam::123456789012:role/reefer-edge-presign";

/**
 * `reefer-edge cloud release` as an operator runs it, against moto's S3 and IoT: the package
 * signed and uploaded, the job created for the thing group with its rollout, abort and timeout,
 * and `cloud job` showing its progress. The document is then checked as a gateway checks it,
 * with the public half of the key.
 */
describe.skipIf(moto.skip)("reefer-edge cloud release", () => {
  const temp = makeTempDir();
  let aws: MotoServer;
  let iot: IoTClient;
  let s3: S3Client;
  const key = generateKeyPairSync("ed25519");
  let env: Record<string, string>;
  const signingKey = join(temp.dir, "release-key.private.pem");

  beforeAll(async () => {
    aws = await MotoServer.start();
    iot = new IoTClient(aws.clientConfig());
    s3 = new S3Client({ ...aws.clientConfig(), forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await iot.send(new CreateThingGroupCommand({ thingGroupName: GROUP }));
    writeFileSync(signingKey, key.privateKey.export({ type: "pkcs8", format: "pem" }), {
      mode: 0o600,
    });
    env = {
      AWS_ENDPOINT_URL: aws.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
    };
  });
  afterAll(async () => {
    await aws.stop();
    temp.cleanup();
  });

  it("signs and uploads the package and creates its job with a rollout, an abort and a timeout", async () => {
    const body = randomBytes(200_000);
    const file = join(temp.dir, "reefer-edge_1.4.2_arm64.deb");
    writeFileSync(file, body);
    const { code, stdout, stderr } = await runCli(
      [
        "cloud",
        "release",
        ...["--package", file, "--version", "1.4.2", "--signing-key", signingKey],
        ...["--bucket", BUCKET, "--thing-group", GROUP, "--presign-role", ROLE],
        ...["--job-id", "release-1-4-2", "--rate", "20", "--abort-failed-percent", "5"],
        "--json",
      ],
      env,
    );
    // Node 20 hears the AWS SDK's notice that it will need Node 22 (the gateways run 22).
    expect(
      stderr.replace(/\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?was created\)\n/, ""),
    ).toBe("");
    expect(code).toBe(0);
    const [released] = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const sha256 = createHash("sha256").update(body).digest("hex");
    expect(released).toMatchObject({
      jobId: "release-1-4-2",
      object: "releases/reefer-edge_1.4.2_arm64.deb",
      size: body.length,
      sha256,
    });

    const stored = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: "releases/reefer-edge_1.4.2_arm64.deb" }),
    );
    expect(Buffer.from((await stored.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);

    const { job } = await iot.send(new DescribeJobCommand({ jobId: "release-1-4-2" }));
    expect(job?.targets?.[0]).toMatch(new RegExp(`thinggroup/${GROUP}$`));
    expect(job?.presignedUrlConfig).toEqual({ roleArn: ROLE, expiresInSec: 3600 });
    expect(job?.jobExecutionsRolloutConfig?.exponentialRate).toEqual({
      baseRatePerMinute: 20,
      incrementFactor: 2,
      rateIncreaseCriteria: { numberOfSucceededThings: 10 },
    });
    expect(job?.abortConfig?.criteriaList).toContainEqual({
      failureType: "FAILED",
      action: "CANCEL",
      thresholdPercentage: 5,
      minNumberOfExecutedThings: 100,
    });
    expect(job?.timeoutConfig).toEqual({ inProgressTimeoutInMinutes: 120 });

    // The document as a gateway gets it: AWS IoT has put a pre-signed URL in the placeholder.
    const { document } = released as { document: Record<string, unknown> };
    const delivered = {
      ...document,
      package: {
        ...(document.package as Record<string, unknown>),
        url: "https://reefer-edge-releases.s3.amazonaws.com/releases/reefer-edge_1.4.2_arm64.deb?X-Amz-Signature=x",
      },
    };
    expect(checkJobDocument(delivered, key.publicKey)).toMatchObject({ ok: true });
    expect((document.package as { url: string }).url).toBe(
      "${aws:iot:s3-presigned-url:https://reefer-edge-releases.s3.amazonaws.com/releases/reefer-edge_1.4.2_arm64.deb}",
    );

    const progress = await runCli(["cloud", "job", "--job-id", "release-1-4-2"], env);
    expect(progress.code).toBe(0);
    // moto's job status and counts (it queues one execution for the group's ARN).
    expect(progress.stdout.trim()).toBe(
      "release-1-4-2: QUEUED: 0 succeeded, 0 failed, 0 timed out, 0 in progress, 1 queued, 0 canceled",
    );
  });

  it("makes the job from the release stack's job template, with the template's rollout, abort and timeout", async () => {
    // As deploy/aws's ReeferRelease stack makes it (its synth test asserts the same blocks).
    await iot.send(
      new CreateJobTemplateCommand({
        jobTemplateId: "reefer-edge-update",
        description: "a reefer-edge update",
        document: "{}",
        presignedUrlConfig: { roleArn: ROLE, expiresInSec: 3600 },
        jobExecutionsRolloutConfig: {
          exponentialRate: {
            baseRatePerMinute: 7,
            incrementFactor: 1.5,
            rateIncreaseCriteria: { numberOfSucceededThings: 25 },
          },
        },
        abortConfig: {
          criteriaList: [
            {
              failureType: "FAILED",
              action: "CANCEL",
              thresholdPercentage: 3,
              minNumberOfExecutedThings: 50,
            },
          ],
        },
        timeoutConfig: { inProgressTimeoutInMinutes: 90 },
      }),
    );
    const file = join(temp.dir, "reefer-edge_1.4.3_arm64.deb");
    writeFileSync(file, randomBytes(1000));
    const { code, stdout } = await runCli(
      [
        "cloud",
        "release",
        ...["--package", file, "--version", "1.4.3", "--signing-key", signingKey],
        ...["--bucket", BUCKET, "--thing-group", GROUP, "--template", "reefer-edge-update"],
        ...["--job-id", "release-1-4-3"],
      ],
      env,
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /job release-1-4-3 for reefers-at-sea: its rollout, abort and timeout from the job template arn:aws:iot:us-east-1:\d+:jobtemplate\/reefer-edge-update/,
    );
    const { job } = await iot.send(new DescribeJobCommand({ jobId: "release-1-4-3" }));
    expect(job?.presignedUrlConfig).toEqual({ roleArn: ROLE, expiresInSec: 3600 });
    expect(job?.jobExecutionsRolloutConfig?.exponentialRate?.baseRatePerMinute).toBe(7);
    expect(job?.abortConfig?.criteriaList).toEqual([
      {
        failureType: "FAILED",
        action: "CANCEL",
        thresholdPercentage: 3,
        minNumberOfExecutedThings: 50,
      },
    ]);
    expect(job?.timeoutConfig).toEqual({ inProgressTimeoutInMinutes: 90 });

    const unknown = await runCli(
      [
        "cloud",
        "release",
        ...["--package", file, "--version", "1.4.4", "--signing-key", signingKey],
        ...["--bucket", BUCKET, "--thing-group", GROUP, "--template", "no-such-template"],
      ],
      env,
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/--template no-such-template: /);
  });

  it("refuses a signing key others can read, and names what is missing", async () => {
    const open = join(temp.dir, "open.pem");
    writeFileSync(open, key.privateKey.export({ type: "pkcs8", format: "pem" }));
    chmodSync(open, 0o644);
    const file = join(temp.dir, "p.deb");
    writeFileSync(file, "x");
    const refused = await runCli(
      [
        "cloud",
        "release",
        ...["--package", file, "--version", "1.0.0", "--signing-key", open],
        ...["--bucket", BUCKET, "--thing-group", GROUP, "--presign-role", ROLE],
      ],
      env,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `--signing-key ${open}: readable or writable by others (mode 0644); chmod 600 ${open}`,
    );
    const missing = await runCli(["cloud", "release", "--package", file], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      "release: missing --version, --signing-key, --bucket, --thing-group, --presign-role",
    );
  });
});
