// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash, webcrypto, X509Certificate } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
type SigningAlgorithm =
  webcrypto.EcdsaParams | webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

// The library types its provider as the DOM's Crypto; Node's webcrypto is that API under Node's
// own type names, which the compiler cannot match member by member: hence the one cast.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * The fleet's certificates, made in-process with @peculiar/x509 on WebCrypto: an EC P-256 key and
 * a certificate take well under a millisecond, where an openssl process per gateway would take
 * minutes for 10,000. Each gateway's pair is cached beside the fleet's data and made again only
 * when missing, expiring, or signed by another issuer.
 */

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
/** Issued for a year; made again within 30 days of the end. */
const VALIDITY_DAYS = 365;
const RENEW_WITHIN_DAYS = 30;

export interface Issuer {
  readonly certPem: string;
  readonly cert: x509.X509Certificate;
  /** The same certificate as node:crypto reads it, to check cached certificates against. */
  readonly nodeCert: X509Certificate;
  readonly key: CryptoKey;
  readonly algorithm: SigningAlgorithm;
  /** SHA-256 of the issuer's certificate: a cached certificate from another issuer is remade. */
  readonly fingerprint: string;
}

export class IssuerError extends Error {
  constructor(file: string, reason: string) {
    super(`fleet issuer: ${file}: ${reason}`);
    this.name = "IssuerError";
  }
}

/** Loads the issuer CA (EC P-256 or RSA, PKCS#8 key). The key must not be readable by others. */
export async function loadIssuer(certFile: string, keyFile: string): Promise<Issuer> {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = readFileSync(certFile, "utf8");
  } catch (error) {
    throw new IssuerError(certFile, `cannot read (${(error as NodeJS.ErrnoException).code})`);
  }
  try {
    if ((statSync(keyFile).mode & 0o077) !== 0) {
      throw new IssuerError(keyFile, `private key readable by others; run: chmod 600 ${keyFile}`);
    }
    keyPem = readFileSync(keyFile, "utf8");
  } catch (error) {
    if (error instanceof IssuerError) throw error;
    throw new IssuerError(keyFile, `cannot read (${(error as NodeJS.ErrnoException).code})`);
  }
  const cert = new x509.X509Certificate(certPem);
  const publicKey = new X509Certificate(certPem).publicKey;
  const algorithm: SigningAlgorithm =
    publicKey.asymmetricKeyType === "ec"
      ? { ...EC }
      : publicKey.asymmetricKeyType === "rsa"
        ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
        : (() => {
            throw new IssuerError(certFile, `unsupported key type ${publicKey.asymmetricKeyType}`);
          })();
  const match = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(keyPem);
  if (!match?.[1]) {
    throw new IssuerError(keyFile, "expected a PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)");
  }
  const key = await webcrypto.subtle.importKey(
    "pkcs8",
    Buffer.from(match[1].replace(/\s+/g, ""), "base64"),
    algorithm,
    false,
    ["sign"],
  );
  return {
    certPem,
    cert,
    nodeCert: new X509Certificate(certPem),
    key,
    algorithm,
    fingerprint: createHash("sha256").update(Buffer.from(cert.rawData)).digest("hex"),
  };
}

/** Makes a self-signed issuer CA in `dir` once (issuer.crt, issuer.key) and loads it. */
export async function ensureOwnIssuer(dir: string, name: string): Promise<Issuer> {
  const cert = join(dir, "issuer.crt");
  const key = join(dir, "issuer.key");
  if (!existsSync(cert) || !existsSync(key)) {
    mkdirSync(dir, { recursive: true });
    const keys = await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"]);
    const now = Date.now();
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${name}`,
      keys,
      signingAlgorithm: EC,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 10 * VALIDITY_DAYS * DAY),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
      ],
    });
    writeAtomically(
      key,
      pkcs8Pem(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)),
      0o600,
    );
    writeAtomically(cert, ca.toString("pem") + "\n", 0o644);
  }
  return loadIssuer(cert, key);
}

export interface IssueOptions {
  /** Subject alternative names: a server's DNS names and IP addresses. */
  readonly dns?: readonly string[];
  readonly ips?: readonly string[];
  readonly server?: boolean;
}

/**
 * A key and certificate for `commonName` in `certFile`/`keyFile` (key mode 0600), unless a
 * usable one from this issuer is already there. Returns true when it made one.
 */
export async function ensureIdentity(
  issuer: Issuer,
  commonName: string,
  files: { cert: string; key: string },
  options: IssueOptions = {},
  now = Date.now(),
): Promise<boolean> {
  if (cachedIdentityUsable(issuer, files, now)) return false;
  const keys = await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const names = [
    ...(options.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(options.ips ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${commonName}`,
    issuer: issuer.cert.subject,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + VALIDITY_DAYS * DAY),
    signingKey: issuer.key,
    publicKey: keys.publicKey,
    signingAlgorithm: issuer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(
        [options.server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert, false),
    ],
  });
  mkdirSync(dirname(files.cert), { recursive: true });
  // The key first: a certificate on disk always has its key beside it.
  writeAtomically(
    files.key,
    pkcs8Pem(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)),
    0o600,
  );
  writeAtomically(files.cert, cert.toString("pem") + "\n", 0o644);
  return true;
}

function cachedIdentityUsable(
  issuer: Issuer,
  files: { cert: string; key: string },
  now: number,
): boolean {
  if (!existsSync(files.key) || !existsSync(files.cert)) return false;
  try {
    const cert = new X509Certificate(readFileSync(files.cert));
    return (
      cert.checkIssued(issuer.nodeCert) &&
      cert.verify(issuer.nodeCert.publicKey) &&
      Date.parse(cert.validTo) - now > RENEW_WITHIN_DAYS * DAY
    );
  } catch {
    return false; // unreadable or not a certificate: made again
  }
}

function writeAtomically(file: string, content: string, mode: number): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode });
  renameSync(temp, file);
}

function pkcs8Pem(der: ArrayBuffer): string {
  const body = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN PRIVATE KEY-----\n${body.trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

/** A positive random 16-byte serial, as RFC 5280 asks (unique per issuer, not guessable). */
function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}
