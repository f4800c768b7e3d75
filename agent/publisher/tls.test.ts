import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makePki, type TestPki } from "../../test/support/pki.js";
import { makeTempDir } from "../../test/support/tmp.js";
import { loadTlsMaterial, TlsFileError } from "./tls.js";

let temp: ReturnType<typeof makeTempDir>;
let pki: TestPki;
beforeAll(() => {
  temp = makeTempDir();
  pki = makePki(temp.dir, ["gw-0001"]);
});
afterAll(() => {
  temp.cleanup();
});

describe("loadTlsMaterial", () => {
  it("reads the CA, certificate and a private key that only its owner can read", () => {
    const { cert, key } = pki.client("gw-0001");
    const tls = loadTlsMaterial({ ca: pki.caCert, cert, key }, Date.now());
    expect(tls.key?.toString()).toContain("PRIVATE KEY");
    expect(tls.warnings).toEqual([]);
  });

  it("refuses a world-readable key, naming the setting, the file and the fix", () => {
    const { cert, key } = pki.client("gw-0001");
    chmodSync(key, 0o644);
    try {
      expect(() => loadTlsMaterial({ cert, key }, Date.now())).toThrow(
        new TlsFileError(
          "mqtt.key",
          key,
          `private key is accessible to other users (mode 0644); run: chmod 600 ${key}`,
        ),
      );
    } finally {
      chmodSync(key, 0o600);
    }
  });

  it("warns about a group-readable key without refusing it", () => {
    const { cert, key } = pki.client("gw-0001");
    chmodSync(key, 0o640);
    try {
      expect(loadTlsMaterial({ cert, key }, Date.now()).warnings).toEqual([
        `mqtt.key: ${key} is readable by its group (mode 0640)`,
      ]);
    } finally {
      chmodSync(key, 0o600);
    }
  });

  it("names a missing file and a file that is not PEM", () => {
    const missing = join(temp.dir, "nope.key");
    expect(() => loadTlsMaterial({ key: missing }, Date.now())).toThrow(
      `mqtt.key: ${missing}: cannot read (ENOENT)`,
    );
    const junk = join(temp.dir, "junk.pem");
    writeFileSync(junk, "hello");
    expect(() => loadTlsMaterial({ ca: junk }, Date.now())).toThrow(
      `mqtt.ca: ${junk}: not a PEM certificate`,
    );
  });

  it("warns when the client certificate has expired", () => {
    const { cert, key } = pki.client("gw-0001");
    const inTenDays = Date.now() + 10 * 86_400_000;
    expect(loadTlsMaterial({ cert, key }, inTenDays).warnings[0]).toMatch(
      /^mqtt\.cert: .* expired on /,
    );
  });

  it("never puts key material into its errors", () => {
    const { key } = pki.client("gw-0001");
    chmodSync(key, 0o604);
    try {
      loadTlsMaterial({ key }, Date.now());
    } catch (error) {
      expect(String(error)).not.toContain("BEGIN");
    } finally {
      chmodSync(key, 0o600);
    }
  });
});
