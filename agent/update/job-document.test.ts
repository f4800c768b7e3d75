import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPairSync, sign } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/support/tmp.js";
import {
  checkJobDocument,
  loadReleaseKey,
  signedStatement,
  UPDATE_OPERATION,
} from "./job-document.js";

const release = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");

function signedDocument(overrides: Record<string, unknown> = {}, key = release.privateKey) {
  const body = {
    operation: UPDATE_OPERATION,
    version: "1.4.2",
    package: {
      url: "https://releases.example.com/reefer-edge_1.4.2_arm64.deb?X-Amz-Signature=abc",
      size: 1234,
      sha256: "a".repeat(64),
    },
    ...overrides,
  } as { version: string; package: { size: number; sha256: string } };
  return { ...body, signature: sign(null, signedStatement(body), key).toString("base64") };
}

describe("the update job document", () => {
  it("takes a document signed by the release key", () => {
    const check = checkJobDocument(signedDocument(), release.publicKey);
    expect(check).toMatchObject({ ok: true, document: { version: "1.4.2" } });
  });

  it("refuses a signature by another key, naming the version", () => {
    const check = checkJobDocument(signedDocument({}, other.privateKey), release.publicKey);
    expect(check).toEqual({
      ok: false,
      reason: "job document refused: signature: not made by the release key for version 1.4.2",
    });
  });

  it("refuses a document whose signed fields were changed after signing", () => {
    const document = signedDocument();
    const tampered = { ...document, package: { ...document.package, sha256: "b".repeat(64) } };
    expect(checkJobDocument(tampered, release.publicKey)).toMatchObject({ ok: false });
    expect(checkJobDocument({ ...document, version: "1.4.3" }, release.publicKey)).toMatchObject({
      ok: false,
    });
  });

  it("names each problem of a malformed document with its path", () => {
    const check = checkJobDocument(
      { operation: "reboot", version: "latest", package: { url: "ftp://x", size: -1 } },
      release.publicKey,
    );
    expect(check.ok).toBe(false);
    const reason = check.ok ? "" : check.reason;
    for (const path of [
      "operation",
      "version",
      "package.url",
      "package.size",
      "package.sha256",
      "signature",
    ]) {
      expect(reason).toContain(`${path}:`);
    }
  });

  it("refuses plain HTTP except to loopback", () => {
    const remote = signedDocument({
      package: { url: "http://releases.example.com/p.deb", size: 1234, sha256: "a".repeat(64) },
    });
    expect(checkJobDocument(remote, release.publicKey)).toMatchObject({
      ok: false,
      reason: expect.stringContaining("plain HTTP to releases.example.com") as unknown,
    });
    const local = signedDocument({
      package: { url: "http://127.0.0.1:8080/p.deb", size: 1234, sha256: "a".repeat(64) },
    });
    expect(checkJobDocument(local, release.publicKey).ok).toBe(true);
  });

  it("is not JSON garbage", () => {
    expect(checkJobDocument("not an object", release.publicKey)).toMatchObject({ ok: false });
    expect(checkJobDocument(null, release.publicKey)).toMatchObject({ ok: false });
  });
});

describe("the release key file", () => {
  const temp = makeTempDir();
  afterAll(() => temp.cleanup());

  it("loads an Ed25519 public key", () => {
    const file = join(temp.dir, "release.pem");
    writeFileSync(file, release.publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
    expect(loadReleaseKey(file).asymmetricKeyType).toBe("ed25519");
  });

  it("refuses a key file others may write, a missing one, a non-key and an RSA key", () => {
    const writable = join(temp.dir, "writable.pem");
    writeFileSync(writable, release.publicKey.export({ type: "spki", format: "pem" }));
    chmodSync(writable, 0o666);
    expect(() => loadReleaseKey(writable)).toThrow(/writable by group or others/);
    expect(() => loadReleaseKey(join(temp.dir, "missing.pem"))).toThrow(
      /update.releaseKeyFile .*missing.pem: ENOENT/,
    );
    const garbage = join(temp.dir, "garbage.pem");
    writeFileSync(garbage, "hello", { mode: 0o644 });
    expect(() => loadReleaseKey(garbage)).toThrow(/not a PEM public key/);
    const rsa = join(temp.dir, "rsa.pem");
    writeFileSync(
      rsa,
      generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({
        type: "spki",
        format: "pem",
      }),
      { mode: 0o644 },
    );
    expect(() => loadReleaseKey(rsa)).toThrow(/an rsa key; releases are signed with Ed25519/);
  });
});
