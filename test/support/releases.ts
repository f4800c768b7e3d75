import { createHash, sign, type KeyObject } from "node:crypto";
import { chmodSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { signedStatement, UPDATE_OPERATION } from "../../agent/update/job-document.js";
import type { Identity } from "./pki.js";

/**
 * An update job's document for a package named `name` in the release bucket, as
 * `reefer-edge cloud release` writes it: the pre-signed URL placeholder (the Jobs stand-in
 * replaces it, as AWS IoT does), the package's size and SHA-256, signed by `key`.
 */
export function updateDocument(
  version: string,
  name: string,
  body: Buffer,
  key: KeyObject,
): Record<string, unknown> {
  const signed = {
    version,
    package: { size: body.length, sha256: createHash("sha256").update(body).digest("hex") },
  };
  return {
    operation: UPDATE_OPERATION,
    version,
    package: {
      url: `\${aws:iot:s3-presigned-url:https://releases.s3.amazonaws.com/${name}}`,
      ...signed.package,
    },
    signature: sign(null, signedStatement(signed), key).toString("base64"),
  };
}

/**
 * A gateway's certificates where the example config names them, with an operator's modes:
 * the CA and certificate readable, the key the root's alone (the unit hands it over).
 */
export function putCertificates(etc: string, caCert: string, identity: Identity): void {
  const certs = join(etc, "certs");
  copyFileSync(caCert, join(certs, "AmazonRootCA1.pem"));
  copyFileSync(identity.cert, join(certs, "gateway.pem.crt"));
  copyFileSync(identity.key, join(certs, "gateway.key"));
  chmodSync(join(certs, "AmazonRootCA1.pem"), 0o644);
  chmodSync(join(certs, "gateway.pem.crt"), 0o644);
  chmodSync(join(certs, "gateway.key"), 0o600);
}
