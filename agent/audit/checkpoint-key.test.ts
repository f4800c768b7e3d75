import { generateKeyPairSync } from "node:crypto";
import { chmodSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { makeTempDir } from "../../test/support/tmp.js";
import { CheckpointKeyError, loadOrCreateCheckpointKey } from "./checkpoint-key.js";

const work = makeTempDir("checkpoint-key-");
afterAll(() => work.cleanup());
let n = 0;
const fresh = () => join(work.dir, `key-${++n}`, "checkpoint.key");

describe("the gateway's checkpoint key", () => {
  it("is made once, only its user may read it, and the same key comes back after", () => {
    const path = join(work.dir, "checkpoint.key");
    const made = loadOrCreateCheckpointKey(path);
    expect(made.created).toBe(true);
    expect(made.privateKey.asymmetricKeyType).toBe("ed25519");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = loadOrCreateCheckpointKey(path);
    expect(again.created).toBe(false);
    expect(again.publicKey.export({ format: "der", type: "spki" })).toEqual(
      made.publicKey.export({ format: "der", type: "spki" }),
    );
    // Nothing left beside it but the key.
    expect(readdirSync(work.dir).filter((f) => f.startsWith("checkpoint.key"))).toEqual([
      "checkpoint.key",
    ]);
  });

  it("refuses a key others can read, saying how to fix it", () => {
    const path = join(work.dir, "open.key");
    loadOrCreateCheckpointKey(path);
    chmodSync(path, 0o640);
    expect(() => loadOrCreateCheckpointKey(path)).toThrow(
      new CheckpointKeyError(
        `checkpoint key ${path} is readable by others (mode 0640); run: chmod 600 ${path}`,
      ),
    );
  });

  it("refuses a file that is no key, or a key of another kind, naming the file", () => {
    const garbage = join(work.dir, "garbage.key");
    writeFileSync(garbage, "not a key\n", { mode: 0o600 });
    expect(() => loadOrCreateCheckpointKey(garbage)).toThrow(
      `checkpoint key ${garbage} is not a private key (PEM)`,
    );
    const ec = join(work.dir, "ec.key");
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(ec, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    expect(() => loadOrCreateCheckpointKey(ec)).toThrow(`checkpoint key ${ec} is ec, not Ed25519`);
  });

  it("makes its folder, for the owner only, on a first start before the outbox exists", () => {
    const path = fresh();
    expect(loadOrCreateCheckpointKey(path).created).toBe(true);
    expect(statSync(join(path, "..")).mode & 0o777).toBe(0o700);
  });

  it("names the file when its folder cannot be made", () => {
    const blocker = join(work.dir, `blocker-${++n}`);
    writeFileSync(blocker, "a file where the folder would be");
    const path = join(blocker, "checkpoint.key");
    expect(() => loadOrCreateCheckpointKey(path)).toThrow(`checkpoint key ${path}: ENOTDIR`);
  });
});
