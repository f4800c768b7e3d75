import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";

/** TLS files for the broker connection, read once at start. */
export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Things worth a warning that do not stop the agent (a group-readable key, an old cert). */
  readonly warnings: readonly string[];
}

export interface TlsFiles {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** A TLS file that cannot be used; `setting` names the config key (`mqtt.key`). */
export class TlsFileError extends Error {
  constructor(
    readonly setting: string,
    readonly file: string,
    reason: string,
  ) {
    super(`${setting}: ${file}: ${reason}`);
    this.name = "TlsFileError";
  }
}

/**
 * Reads the CA, certificate and private key. The key must not be readable or writable by others
 * (like ssh, we refuse rather than leak a fleet credential); group access is only warned about,
 * since a service group may be deliberate. Nothing here logs file contents.
 */
export function loadTlsMaterial(files: TlsFiles, now: number): TlsMaterial {
  const warnings: string[] = [];
  const ca = files.ca === undefined ? undefined : readPem("mqtt.ca", files.ca, "CERTIFICATE");
  const cert =
    files.cert === undefined ? undefined : readPem("mqtt.cert", files.cert, "CERTIFICATE");
  let key: Buffer | undefined;
  if (files.key !== undefined) {
    const mode = statOrThrow("mqtt.key", files.key).mode & 0o777;
    if ((mode & 0o007) !== 0) {
      throw new TlsFileError(
        "mqtt.key",
        files.key,
        `private key is accessible to other users (mode ${mode.toString(8).padStart(4, "0")}); run: chmod 600 ${files.key}`,
      );
    }
    if ((mode & 0o070) !== 0) {
      warnings.push(
        `mqtt.key: ${files.key} is readable by its group (mode ${mode.toString(8).padStart(4, "0")})`,
      );
    }
    key = readPem("mqtt.key", files.key, "PRIVATE KEY");
  }
  if (cert) {
    try {
      const x509 = new X509Certificate(cert);
      const expires = Date.parse(x509.validTo);
      if (Number.isFinite(expires) && expires < now) {
        warnings.push(
          `mqtt.cert: ${files.cert ?? ""} expired on ${x509.validTo}; the broker will refuse it`,
        );
      }
    } catch (error) {
      throw new TlsFileError(
        "mqtt.cert",
        files.cert ?? "",
        `not a valid certificate: ${(error as Error).message}`,
      );
    }
  }
  return { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }), warnings };
}

function statOrThrow(setting: string, file: string) {
  try {
    return statSync(file);
  } catch (error) {
    throw new TlsFileError(
      setting,
      file,
      `cannot read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
}

function readPem(setting: string, file: string, kind: string): Buffer {
  statOrThrow(setting, file);
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (error) {
    throw new TlsFileError(
      setting,
      file,
      `cannot read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  // "PRIVATE KEY" also matches "RSA PRIVATE KEY" and "EC PRIVATE KEY".
  if (!content.includes("-----BEGIN") || !content.includes(`${kind}-----`)) {
    throw new TlsFileError(setting, file, `not a PEM ${kind.toLowerCase()}`);
  }
  return content;
}
