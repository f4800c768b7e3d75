import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { z } from "zod";
import { isLoopbackHost } from "../../config/http-schema.js";

/** The release key cannot be used: the agent does not start (exit 78), as for a bad TLS file. */
export class ReleaseKeyError extends Error {
  override name = "ReleaseKeyError";
}

/** The job document's `operation`: a job of another kind is not this agent's to run. */
export const UPDATE_OPERATION = "reefer-edge.update";

const VERSION = /^\d+\.\d+\.\d+(?:[-+~][0-9A-Za-z.+~-]+)?$/;

/**
 * A release, as the operator's `reefer-edge cloud release` writes it into the job document. The
 * URL is a pre-signed S3 GET: it expires, and describing the job again gives a fresh one (AWS IoT
 * substitutes `${aws:iot:s3-presigned-url:...}` at every describe), so it is not signed; what is
 * signed is what the gateway installs: the version, the size and the SHA-256.
 */
const jobDocumentSchema = z.strictObject({
  operation: z.literal(UPDATE_OPERATION),
  version: z.string().regex(VERSION, "expected a Debian-style version such as 1.4.2"),
  package: z.strictObject({
    url: z.url({ protocol: /^https?$/ }),
    size: z
      .int()
      .positive()
      .max(512 * 1024 * 1024),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lower-case hex digits"),
  }),
  signature: z.base64().min(1),
});

export type UpdateJobDocument = z.output<typeof jobDocumentSchema>;

/**
 * The bytes the release key signs: a line-based text, not JSON, so that no canonical JSON
 * encoding has to agree between the signing tool and the gateway. The first line names the
 * format, so a signature of one kind of statement is never taken for another.
 */
export function signedStatement(
  document: Pick<UpdateJobDocument, "version"> & {
    package: Pick<UpdateJobDocument["package"], "size" | "sha256">;
  },
): Buffer {
  return Buffer.from(
    [
      "reefer-edge release v1",
      `version ${document.version}`,
      `size ${document.package.size}`,
      `sha256 ${document.package.sha256}`,
      "",
    ].join("\n"),
  );
}

export type JobDocumentCheck =
  | { readonly ok: true; readonly document: UpdateJobDocument }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks a job document: its shape (each problem named with its path), an HTTPS URL (plain HTTP
 * to loopback only, for tests), and the release key's signature over the signed statement.
 */
export function checkJobDocument(raw: unknown, releaseKey: KeyObject): JobDocumentCheck {
  const parsed = jobDocumentSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join(".") || "(document)"}: ${issue.message}`,
    );
    return { ok: false, reason: `job document refused: ${problems.join("; ")}` };
  }
  const document = parsed.data;
  const url = new URL(document.package.url);
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname.replace(/^\[|\]$/g, ""))) {
    return {
      ok: false,
      reason: `job document refused: package.url: plain HTTP to ${url.hostname}; a package is fetched over HTTPS`,
    };
  }
  const signature = Buffer.from(document.signature, "base64");
  if (!verify(null, signedStatement(document), releaseKey, signature)) {
    return {
      ok: false,
      reason: `job document refused: signature: not made by the release key for version ${document.version}`,
    };
  }
  return { ok: true, document };
}

/**
 * The release key from its file: an Ed25519 public key in PEM. Like the TLS key, a file anyone
 * may write is refused: whoever can replace it can sign releases.
 */
export function loadReleaseKey(file: string): KeyObject {
  let text: string;
  try {
    if ((statSync(file).mode & 0o022) !== 0) {
      throw new ReleaseKeyError(
        `update.releaseKeyFile ${file}: writable by group or others; chmod go-w ${file}`,
      );
    }
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (error instanceof ReleaseKeyError) throw error;
    throw new ReleaseKeyError(`update.releaseKeyFile ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch (error) {
    throw new ReleaseKeyError(`update.releaseKeyFile ${file}: not a PEM public key`, {
      cause: error,
    });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new ReleaseKeyError(
      `update.releaseKeyFile ${file}: an ${key.asymmetricKeyType ?? "unknown"} key; releases are signed with Ed25519`,
    );
  }
  return key;
}
