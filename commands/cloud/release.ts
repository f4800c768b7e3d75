import { createHash, createPrivateKey, sign, type KeyObject } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import {
  CreateJobCommand,
  DescribeJobCommand,
  DescribeJobTemplateCommand,
  DescribeThingGroupCommand,
  type CreateJobCommandInput,
  type IoTClient,
} from "@aws-sdk/client-iot";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { signedStatement, UPDATE_OPERATION } from "../../agent/update/job-document.js";

/** What an operator releases, and to whom, at what pace. */
export interface ReleaseRequest {
  readonly packageFile: string;
  readonly version: string;
  readonly signingKeyFile: string;
  readonly bucket: string;
  /** Under this prefix in the bucket; default `releases/`. */
  readonly prefix: string;
  /** The thing group whose gateways get it (its name). */
  readonly thingGroup: string;
  /** The role AWS IoT assumes to pre-sign the package's URL (s3:GetObject on the releases). */
  readonly presignRoleArn: string;
  /**
   * A job template (id or ARN; the release stack's is `reefer-edge-update`): the job is made
   * from it, and its rollout, abort, timeout and pre-signing role are the ones used.
   */
  readonly template?: string;
  readonly jobId: string;
  readonly rollout: {
    /** Executions started per minute at first (AWS: 1-1000). */
    readonly baseRatePerMinute: number;
    /** The rate grows by this factor (1.1-5) ... */
    readonly incrementFactor: number;
    /** ... each time this many more gateways have succeeded. */
    readonly succeededToIncrease: number;
  };
  readonly abort: {
    /** Cancel the job when this share of executions failed ... */
    readonly failedPercent: number;
    /** ... once at least this many have ended. */
    readonly minExecuted: number;
  };
  /** An execution IN_PROGRESS longer than this is TIMED_OUT (download, install and soak). */
  readonly inProgressTimeoutMinutes: number;
}

export interface Released {
  readonly jobId: string;
  readonly jobArn: string;
  readonly object: string;
  readonly size: number;
  readonly sha256: string;
  /** The job document as created, for the record. */
  readonly document: Record<string, unknown>;
  /** The job template it was made from, if any (its ARN). */
  readonly template: string | null;
}

/**
 * A release, as `reefer-edge cloud release` makes it: the package signed (the signed statement
 * of docs/updates.md, with the release key's private half, which stays on the operator's
 * machine), uploaded to the release bucket, and an AWS IoT job for a thing group with a rollout
 * that starts slow and grows as gateways succeed, an abort when too many fail, and a timeout.
 * The document carries a pre-signed URL placeholder: AWS IoT signs a fresh URL each time a
 * gateway describes the job, so a gateway offline for weeks still gets a URL that works.
 */
export async function release(
  request: ReleaseRequest,
  clients: { readonly iot: IoTClient; readonly s3: S3Client },
): Promise<Released> {
  const key = loadSigningKey(request.signingKeyFile);
  const body = readFileSync(request.packageFile);
  const size = body.length;
  const sha256 = createHash("sha256").update(body).digest("hex");
  const signature = sign(
    null,
    signedStatement({ version: request.version, package: { size, sha256 } }),
    key,
  ).toString("base64");
  const object = `${request.prefix}${basename(request.packageFile)}`;
  await clients.s3.send(
    new PutObjectCommand({
      Bucket: request.bucket,
      Key: object,
      Body: body,
      ChecksumSHA256: Buffer.from(sha256, "hex").toString("base64"),
      Metadata: { "reefer-edge-version": request.version },
    }),
  );
  const document = {
    operation: UPDATE_OPERATION,
    version: request.version,
    package: {
      url: `\${aws:iot:s3-presigned-url:https://${request.bucket}.s3.amazonaws.com/${object}}`,
      size,
      sha256,
    },
    signature,
  };
  const group = await clients.iot.send(
    new DescribeThingGroupCommand({ thingGroupName: request.thingGroup }),
  );
  if (!group.thingGroupArn) throw new Error(`thing group ${request.thingGroup}: no ARN`);
  const template =
    request.template === undefined ? null : await jobTemplate(clients.iot, request.template);
  const created = await clients.iot.send(
    new CreateJobCommand({
      jobId: request.jobId,
      targets: [group.thingGroupArn],
      // Gateways that join the group later (a new ship) get the release too.
      targetSelection: "CONTINUOUS",
      document: JSON.stringify(document),
      description: `reefer-edge ${request.version}`,
      // A custom template's document takes no parameters (AWS: documentParameters are for
      // managed templates only): the release's own document goes with it, and the template's
      // settings are sent too, as read, so the job says what it runs by.
      ...(template ?? releaseSettings(request)),
    }),
  );
  return {
    jobId: created.jobId ?? request.jobId,
    jobArn: created.jobArn ?? "",
    object,
    size,
    sha256,
    document,
    template: template?.jobTemplateArn ?? null,
  };
}

/** The rollout, abort, timeout and pre-signing a job gets from the command's own flags. */
function releaseSettings(request: ReleaseRequest): Partial<CreateJobCommandInput> {
  return {
    presignedUrlConfig: { roleArn: request.presignRoleArn, expiresInSec: 3600 },
    jobExecutionsRolloutConfig: {
      exponentialRate: {
        baseRatePerMinute: request.rollout.baseRatePerMinute,
        incrementFactor: request.rollout.incrementFactor,
        rateIncreaseCriteria: { numberOfSucceededThings: request.rollout.succeededToIncrease },
      },
    },
    abortConfig: {
      criteriaList: [
        {
          failureType: "FAILED",
          action: "CANCEL",
          thresholdPercentage: request.abort.failedPercent,
          minNumberOfExecutedThings: request.abort.minExecuted,
        },
        {
          failureType: "TIMED_OUT",
          action: "CANCEL",
          thresholdPercentage: request.abort.failedPercent,
          minNumberOfExecutedThings: request.abort.minExecuted,
        },
      ],
    },
    timeoutConfig: { inProgressTimeoutInMinutes: request.inProgressTimeoutMinutes },
  };
}

/** A job template's settings, for CreateJob: what it names, as DescribeJobTemplate gives it. */
async function jobTemplate(
  iot: IoTClient,
  idOrArn: string,
): Promise<Partial<CreateJobCommandInput> & { jobTemplateArn: string }> {
  const id = idOrArn.startsWith("arn:") ? idOrArn.slice(idOrArn.lastIndexOf("/") + 1) : idOrArn;
  const found = await iot
    .send(new DescribeJobTemplateCommand({ jobTemplateId: id }))
    .catch((error: unknown) => {
      throw new Error(`--template ${idOrArn}: ${(error as Error).message}`, { cause: error });
    });
  if (!found.jobTemplateArn) throw new Error(`--template ${idOrArn}: no such job template`);
  return {
    jobTemplateArn: found.jobTemplateArn,
    presignedUrlConfig: found.presignedUrlConfig,
    jobExecutionsRolloutConfig: found.jobExecutionsRolloutConfig,
    abortConfig: found.abortConfig,
    timeoutConfig: found.timeoutConfig,
  };
}

export interface JobProgress {
  readonly status: string;
  readonly succeeded: number;
  readonly failed: number;
  readonly timedOut: number;
  readonly inProgress: number;
  readonly queued: number;
  readonly canceled: number;
}

/** The job's counts, as DescribeJob gives them. */
export async function jobProgress(iot: IoTClient, jobId: string): Promise<JobProgress> {
  const { job } = await iot.send(new DescribeJobCommand({ jobId }));
  const details = job?.jobProcessDetails ?? {};
  return {
    status: job?.status ?? "UNKNOWN",
    succeeded: details.numberOfSucceededThings ?? 0,
    failed: details.numberOfFailedThings ?? 0,
    timedOut: details.numberOfTimedOutThings ?? 0,
    inProgress: details.numberOfInProgressThings ?? 0,
    queued: details.numberOfQueuedThings ?? 0,
    canceled: details.numberOfCanceledThings ?? 0,
  };
}

export function describeProgress(jobId: string, p: JobProgress): string {
  return `${jobId}: ${p.status}: ${p.succeeded} succeeded, ${p.failed} failed, ${p.timedOut} timed out, ${p.inProgress} in progress, ${p.queued} queued, ${p.canceled} canceled`;
}

/**
 * The release key's private half: Ed25519, in PEM, readable by its owner only (whoever reads it
 * can sign releases for the whole fleet).
 */
export function loadSigningKey(file: string): KeyObject {
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) {
    throw new Error(
      `--signing-key ${file}: readable or writable by others (mode 0${(statSync(file).mode & 0o777).toString(8)}); chmod 600 ${file}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`--signing-key ${file}: not a PEM private key`, { cause: error });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new Error(
      `--signing-key ${file}: an ${key.asymmetricKeyType ?? "unknown"} key; releases are signed with Ed25519`,
    );
  }
  return key;
}
