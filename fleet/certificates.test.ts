import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureIdentity, ensureOwnIssuer, IssuerError, loadIssuer } from "./certificates.js";

const dir = mkdtempSync(join(tmpdir(), "reefer-fleet-certs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** openssl, a third party, judges what the fleet made. */
function openssl(args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

describe("the fleet's certificates", () => {
  it("issues a client certificate with the gateway id as CN that openssl verifies against the issuer", async () => {
    const issuer = await ensureOwnIssuer(join(dir, "own"), "test fleet issuer");
    const files = { cert: join(dir, "own", "gw-1.crt"), key: join(dir, "own", "gw-1.key") };
    expect(await ensureIdentity(issuer, "gw-1", files)).toBe(true);
    expect(openssl(["verify", "-CAfile", join(dir, "own", "issuer.crt"), files.cert])).toMatch(
      /: OK/,
    );
    expect(openssl(["x509", "-in", files.cert, "-noout", "-subject"])).toMatch(/CN ?= ?gw-1/);
    expect(openssl(["x509", "-in", files.cert, "-noout", "-ext", "extendedKeyUsage"])).toMatch(
      /TLS Web Client Authentication/,
    );
    expect(statSync(files.key).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "own", "issuer.key")).mode & 0o777).toBe(0o600);
    // The key matches the certificate.
    const publicOf = (args: string[]) => openssl(args);
    expect(publicOf(["pkey", "-in", files.key, "-pubout"])).toBe(
      publicOf(["x509", "-in", files.cert, "-noout", "-pubkey"]),
    );
  });

  it("keeps a cached certificate, and makes it again for another issuer", async () => {
    const issuer = await ensureOwnIssuer(join(dir, "own"), "test fleet issuer");
    const files = { cert: join(dir, "own", "gw-2.crt"), key: join(dir, "own", "gw-2.key") };
    await ensureIdentity(issuer, "gw-2", files);
    const first = readFileSync(files.cert, "utf8");
    expect(await ensureIdentity(issuer, "gw-2", files)).toBe(false);
    expect(readFileSync(files.cert, "utf8")).toBe(first);
    const other = await ensureOwnIssuer(join(dir, "other"), "another issuer");
    expect(await ensureIdentity(other, "gw-2", files)).toBe(true);
    expect(openssl(["verify", "-CAfile", join(dir, "other", "issuer.crt"), files.cert])).toMatch(
      /: OK/,
    );
    // Within 30 days of its end (a year after issue), it is made again.
    expect(await ensureIdentity(other, "gw-2", files, {}, Date.now() + 340 * 86_400_000)).toBe(
      true,
    );
  });

  it("signs with an RSA issuer made by openssl, and a server certificate carries its names", async () => {
    const key = join(dir, "rsa-ca.key");
    const cert = join(dir, "rsa-ca.pem");
    openssl(
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert].concat([
        "-days",
        "2",
        "-subj",
        "/CN=rsa test ca",
      ]),
    );
    chmodSync(key, 0o600);
    const issuer = await loadIssuer(cert, key);
    const files = { cert: join(dir, "broker.crt"), key: join(dir, "broker.key") };
    await ensureIdentity(issuer, "localhost", files, {
      server: true,
      dns: ["localhost"],
      ips: ["127.0.0.1"],
    });
    expect(openssl(["verify", "-CAfile", cert, files.cert])).toMatch(/: OK/);
    const names = openssl(["x509", "-in", files.cert, "-noout", "-ext", "subjectAltName"]);
    expect(names).toMatch(/DNS:localhost/);
    expect(names).toMatch(/IP Address:127\.0\.0\.1/);
  });

  it("refuses an issuer key that others can read, naming the file and the fix", async () => {
    const key = join(dir, "open.key");
    const cert = join(dir, "open.pem");
    openssl(
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"].concat([
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "2",
        "-subj",
        "/CN=open",
      ]),
    );
    chmodSync(key, 0o644);
    const refused = loadIssuer(cert, key);
    await expect(refused).rejects.toBeInstanceOf(IssuerError);
    await expect(refused).rejects.toThrow(`chmod 600 ${key}`);
  });
});
