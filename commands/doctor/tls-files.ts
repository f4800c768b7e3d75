import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { AgentConfig } from "../../config/schema.js";
import { fail, pass, skip, warn, type Verdict } from "./verdict.js";

/** How soon an expiry is worth a warning: certificates are rotated well before. */
const EXPIRY_WARNING_MS = 30 * 24 * 3600 * 1000;

/**
 * The CA, certificate and key: readable, PEM, the key private to the agent's user, the
 * certificate valid now and issued by... the key matching the certificate.
 */
export function checkTlsFiles(mqtt: AgentConfig["mqtt"], now: number): Verdict[] {
  if (mqtt.cert === undefined && mqtt.key === undefined && mqtt.ca === undefined)
    return [skip("TLS files", "none configured (plaintext or server-only TLS)")];
  const verdicts: Verdict[] = [];
  const ca = mqtt.ca === undefined ? null : certificate("CA certificate", mqtt.ca, verdicts);
  const cert =
    mqtt.cert === undefined ? null : certificate("client certificate", mqtt.cert, verdicts);
  const key = mqtt.key === undefined ? null : privateKey(mqtt.key, verdicts);
  if (cert) {
    const expires = Date.parse(cert.validTo);
    const starts = Date.parse(cert.validFrom);
    if (expires < now)
      verdicts.push(
        fail(
          "client certificate validity",
          `expired on ${cert.validTo}`,
          "issue a new certificate for this gateway (or, if the date is wrong, fix the clock)",
        ),
      );
    else if (starts > now)
      verdicts.push(
        fail(
          "client certificate validity",
          `not valid before ${cert.validFrom}`,
          "the gateway clock is probably wrong: check NTP (timedatectl)",
        ),
      );
    else if (expires - now < EXPIRY_WARNING_MS)
      verdicts.push(
        warn("client certificate validity", `expires on ${cert.validTo}`, "rotate it soon"),
      );
    else verdicts.push(pass("client certificate validity", `valid until ${cert.validTo}`));
    if (key) {
      verdicts.push(
        cert.checkPrivateKey(key)
          ? pass("key matches certificate", "the private key belongs to the certificate")
          : fail(
              "key matches certificate",
              "the private key does not belong to the certificate",
              "mqtt.key and mqtt.cert must be the pair issued together",
            ),
      );
    }
    if (ca && cert.issuer === ca.subject && !cert.verify(ca.publicKey))
      verdicts.push(
        fail(
          "certificate chain",
          "the certificate names the CA but its signature does not verify",
          "check mqtt.ca",
        ),
      );
  }
  return verdicts;
}

function certificate(what: string, file: string, verdicts: Verdict[]): X509Certificate | null {
  try {
    const x509 = new X509Certificate(readFileSync(file));
    verdicts.push(pass(what, `${file}: ${x509.subject.replace(/\n/g, ", ")}`));
    return x509;
  } catch (error) {
    verdicts.push(
      fail(what, `${file}: ${reason(error)}`, "point the config at the PEM file you were given"),
    );
    return null;
  }
}

function privateKey(file: string, verdicts: Verdict[]): KeyObject | null {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch (error) {
    verdicts.push(fail("private key", `${file}: ${reason(error)}`, "check mqtt.key"));
    return null;
  }
  if ((mode & 0o007) !== 0) {
    verdicts.push(
      fail(
        "private key permissions",
        `${file} is accessible to other users (mode ${mode.toString(8).padStart(4, "0")})`,
        `chmod 600 ${file}`,
      ),
    );
  } else
    verdicts.push(pass("private key permissions", `mode ${mode.toString(8).padStart(4, "0")}`));
  try {
    const key = createPrivateKey(readFileSync(file));
    verdicts.push(pass("private key", `${file}: ${key.asymmetricKeyType ?? "key"}`));
    return key;
  } catch (error) {
    verdicts.push(
      fail(
        "private key",
        `${file}: ${reason(error)}`,
        "the agent's user must be able to read it, and it must be a PEM private key",
      ),
    );
    return null;
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied for this user";
  return (error as Error).message;
}
