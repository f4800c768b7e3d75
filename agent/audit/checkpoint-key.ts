import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";

import { writeFileDurably } from "../durable-file.js";

/** A checkpoint key file that cannot be used, and what to do about it. */
export class CheckpointKeyError extends Error {
  override name = "CheckpointKeyError";
}

export type CheckpointKey = {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Made by this call (its public half is to be registered). */
  readonly created: boolean;
};

/**
 * The gateway's checkpoint key (docs/audit-log.md): an Ed25519 key of its own, apart from its TLS
 * key, made on the gateway the first time it is asked for and kept where only its user can read
 * it. A key others can read is refused, as the TLS key is: whoever holds it can sign for the
 * gateway's cold chain. It is made durably (written and synced under another name, renamed, the
 * folder synced), so that a power cut during the first start leaves no key or the whole key,
 * never a file of half a key.
 */
export function loadOrCreateCheckpointKey(path: string): CheckpointKey {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      throw new CheckpointKeyError(`checkpoint key ${path}: ${(error as Error).message}`);
    try {
      return create(path);
    } catch (made) {
      throw new CheckpointKeyError(
        `checkpoint key ${path} could not be made: ${(made as Error).message}`,
      );
    }
  }
  if ((mode & 0o077) !== 0)
    throw new CheckpointKeyError(
      `checkpoint key ${path} is readable by others (mode ${mode.toString(8).padStart(4, "0")}); run: chmod 600 ${path}`,
    );
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(path));
  } catch (error) {
    throw new CheckpointKeyError(
      `checkpoint key ${path} is not a private key (PEM): ${(error as Error).message}`,
    );
  }
  if (privateKey.asymmetricKeyType !== "ed25519")
    throw new CheckpointKeyError(
      `checkpoint key ${path} is ${privateKey.asymmetricKeyType ?? "of no known type"}, not Ed25519`,
    );
  return { privateKey, publicKey: createPublicKey(privateKey), created: false };
}

function create(path: string): CheckpointKey {
  // The state folder is the outbox's too, which may not be made yet on a first start.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pem = String(privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileDurably(path, pem, `${path}.new-${process.pid}`);
  return { privateKey, publicKey, created: true };
}
