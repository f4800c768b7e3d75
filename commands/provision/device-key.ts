// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createPrivateKey, createPublicKey, webcrypto } from "node:crypto";

// The library types its provider as the DOM's Crypto; Node's webcrypto is that API under Node's
// own type names, which the compiler cannot match member by member: hence the one cast.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A new EC P-256 private key, PKCS#8 PEM: made on the gateway, it never leaves it. */
export async function newDeviceKey(): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const body = der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trimEnd();
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

/**
 * A PKCS#10 request signed by the key, for AWS IoT's CreateCertificateFromCsr: the certificate
 * comes back, the key stays. Rebuilt from the saved key on a rerun, so an interrupted
 * provisioning reuses its key.
 */
export async function certificateRequest(keyPem: string, commonName: string): Promise<string> {
  const privateObject = createPrivateKey(keyPem);
  const spki = createPublicKey(privateObject).export({ type: "spki", format: "der" });
  const pkcs8 = privateObject.export({ type: "pkcs8", format: "der" });
  const keys = {
    privateKey: await webcrypto.subtle.importKey("pkcs8", pkcs8, EC, false, ["sign"]),
    publicKey: await webcrypto.subtle.importKey("spki", spki, EC, true, ["verify"]),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm: EC,
  });
  return csr.toString("pem") + "\n";
}
