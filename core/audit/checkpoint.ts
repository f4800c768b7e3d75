import { createHash, createPublicKey, sign, verify, type KeyObject } from "node:crypto";

import { HASH_BYTES } from "./merkle.js";

/**
 * A log's checkpoint as a signed note: the formats of C2SP's tlog-checkpoint and signed-note, the
 * ones Go's checksum database, Sigstore and the transparency-dev witnesses use, so that Go's own
 * `golang.org/x/mod/sumdb/note` opens ours (test/audit). The body:
 *
 *     <origin>\n<tree size>\n<base64 root hash>\n
 *
 * then a blank line and one line per signature: "— <key name> <base64(key id || signature)>".
 * Written here because no npm package writes signed notes; Node's crypto does the Ed25519.
 */

export type Checkpoint = {
  /** Names the log: one per gateway (`checkpointOrigin`). */
  origin: string;
  /** Leaves in the log when it was signed. */
  size: number;
  /** RFC 6962 root hash of those leaves. */
  root: Buffer;
};

/**
 * The name of a gateway's checkpoint key, and the origin of its logs' checkpoints:
 * `reefer-edge/<gateway id>`, then `/<log id>` when the record names its log. A gateway's log
 * lives in its outbox file; an outbox started afresh (a corrupt file moved aside) starts a new
 * log under a new id, so that its index 0 is not taken for a rewrite of the old one.
 */
export function checkpointOrigin(gatewayId: string, logId?: string): string {
  return logId === undefined ? checkpointKeyName(gatewayId) : `reefer-edge/${gatewayId}/${logId}`;
}

/** The name a gateway's checkpoint key signs under: one key for all the gateway's logs. */
export function checkpointKeyName(gatewayId: string): string {
  return `reefer-edge/${gatewayId}`;
}

/** The JSON a checkpoint travels in on the audit topic: `{schema, gateway_id, note}`. */
export const CHECKPOINT_SCHEMA = "reefer.checkpoint.v1";

/** Ed25519 in signed notes: the algorithm byte before the public key (C2SP signed-note). */
const ED25519_ALGORITHM = 0x01;
const EM_DASH_LINE = "\u2014 ";

/** A note's signer: a key name (the log's origin, by our convention) and an Ed25519 private key. */
export type NoteSigner = { name: string; privateKey: KeyObject };

/** Verifies notes by one key: its name, id and Ed25519 public key. */
export type NoteVerifier = { name: string; keyId: Buffer; publicKey: KeyObject };

/** The body of a checkpoint: what is signed. */
export function checkpointBody({ origin, size, root }: Checkpoint): string {
  if (origin === "" || /[\n\u2014]/.test(origin) || /^\s|\s$/.test(origin))
    throw new Error(
      `a checkpoint origin must be one non-empty line, not ${JSON.stringify(origin)}`,
    );
  if (!Number.isSafeInteger(size) || size < 0)
    throw new Error(`a checkpoint's tree size must be a whole number ≥ 0, not ${size}`);
  if (root.length !== HASH_BYTES)
    throw new Error(`a checkpoint's root hash is ${HASH_BYTES} bytes, not ${root.length}`);
  return `${origin}\n${size}\n${root.toString("base64")}\n`;
}

/** Signs a checkpoint: its body, a blank line and the signature line. */
export function signCheckpoint(checkpoint: Checkpoint, signer: NoteSigner): string {
  const body = checkpointBody(checkpoint);
  const publicKey = createPublicKey(signer.privateKey);
  const keyId = noteKeyId(signer.name, rawEd25519(publicKey));
  const signature = sign(null, Buffer.from(body, "utf8"), signer.privateKey);
  const blob = Buffer.concat([keyId, signature]).toString("base64");
  return `${body}\n${EM_DASH_LINE}${signer.name} ${blob}\n`;
}

/**
 * The verifier key in the form Go's `note.NewVerifier` reads: "<name>+<key id, hex>+<base64 of
 * the algorithm byte and public key>". The gateway registers it with its thing at provisioning.
 */
export function verifierKey(name: string, publicKey: KeyObject): string {
  const raw = rawEd25519(publicKey);
  const keyId = noteKeyId(name, raw);
  const encoded = Buffer.concat([Buffer.from([ED25519_ALGORITHM]), raw]).toString("base64");
  return `${name}+${keyId.toString("hex")}+${encoded}`;
}

/**
 * The raw public key in hex, as a thing attribute holds it: an attribute value's alphabet has no
 * "+", so the verifier key itself cannot be one; it is rebuilt from this and the gateway's id
 * (`verifierKeyFromHex`).
 */
export function publicKeyHex(publicKey: KeyObject): string {
  return rawEd25519(publicKey).toString("hex");
}

/** A gateway's verifier key from its registered hex public key; throws on one that is not. */
export function verifierKeyFromHex(gatewayId: string, hex: string): string {
  if (!/^[0-9a-f]{64}$/i.test(hex))
    throw new Error(`a checkpoint key is 32 bytes in hex (64 digits), not ${JSON.stringify(hex)}`);
  const publicKey = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, "hex")]),
    format: "der",
    type: "spki",
  });
  return verifierKey(checkpointKeyName(gatewayId), publicKey);
}

/** Reads a verifier key (`verifierKey`); throws naming what is wrong with it. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  // The key's base64 may hold "+" itself: the name and the id end at the first two.
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  if (first <= 0 || second < 0) throw new Error(`a verifier key is name+id+key, not ${vkey}`);
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  const keyB64 = vkey.slice(second + 1);
  const key = Buffer.from(keyB64, "base64");
  if (key.length !== 33 || key[0] !== ED25519_ALGORITHM)
    throw new Error(`verifier key ${name}: not an Ed25519 key (algorithm byte 1 and 32 bytes)`);
  const raw = key.subarray(1);
  const keyId = noteKeyId(name, raw);
  if (keyId.toString("hex") !== idHex)
    throw new Error(`verifier key ${name}: its id ${idHex} is not that of its key`);
  const publicKey = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
    format: "der",
    type: "spki",
  });
  return { name, keyId, publicKey };
}

/** What opening a signed checkpoint found. */
export type OpenedCheckpoint =
  { ok: true; checkpoint: Checkpoint; extensions: string[] } | { ok: false; reason: string };

/** A checkpoint note read but its signatures not yet checked (`isSignedBy`). */
export type ReadCheckpoint =
  | {
      ok: true;
      checkpoint: Checkpoint;
      extensions: string[];
      body: string;
      signatures: { name: string; bytes: Buffer }[];
    }
  | { ok: false; reason: string };

/**
 * Opens a signed checkpoint: it must carry a valid signature by `verifier`'s key, and its body
 * must be a checkpoint. Other signatures (a witness's cosignature) are allowed and ignored.
 */
export function openCheckpoint(note: string, verifier: NoteVerifier): OpenedCheckpoint {
  const read = readCheckpoint(note);
  if (!read.ok) return read;
  const signed = isSignedBy(read, verifier);
  if (signed !== true) return { ok: false, reason: signed };
  return { ok: true, checkpoint: read.checkpoint, extensions: read.extensions };
}

/**
 * Reads a checkpoint note's body and signature lines without checking a signature: a verifier
 * of thousands of checkpoints checks only those its verdict rests on (verify-log.ts).
 */
export function readCheckpoint(note: string): ReadCheckpoint {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n"))
    return { ok: false, reason: "not a signed note (no blank line before its signatures)" };
  const body = note.slice(0, split + 1);
  const signatures: { name: string; bytes: Buffer }[] = [];
  for (const line of note.slice(split + 2, -1).split("\n")) {
    const [name, blob, ...rest] = line.startsWith(EM_DASH_LINE)
      ? line.slice(EM_DASH_LINE.length).split(" ")
      : [];
    if (name === undefined || blob === undefined || rest.length > 0)
      return { ok: false, reason: `bad signature line: ${line}` };
    signatures.push({ name, bytes: Buffer.from(blob, "base64") });
  }
  const [origin, sizeText, rootText, ...extensions] = body.slice(0, -1).split("\n");
  if (origin === undefined || sizeText === undefined || rootText === undefined)
    return { ok: false, reason: "a checkpoint has an origin, a size and a root hash" };
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText)))
    return { ok: false, reason: `bad tree size ${JSON.stringify(sizeText)}` };
  const root = Buffer.from(rootText, "base64");
  if (root.length !== HASH_BYTES || root.toString("base64") !== rootText)
    return { ok: false, reason: `bad root hash ${JSON.stringify(rootText)}` };
  const checkpoint = { origin, size: Number(sizeText), root };
  return { ok: true, checkpoint, extensions, body, signatures };
}

/** True when the note carries a valid signature by the verifier's key; else why not. */
export function isSignedBy(
  read: Extract<ReadCheckpoint, { ok: true }>,
  verifier: NoteVerifier,
): true | string {
  let signed = false;
  for (const { name, bytes } of read.signatures) {
    if (name !== verifier.name) continue;
    if (bytes.length < 4 || !bytes.subarray(0, 4).equals(verifier.keyId)) continue;
    if (!verify(null, Buffer.from(read.body, "utf8"), verifier.publicKey, bytes.subarray(4)))
      return `the signature by ${name} does not verify`;
    signed = true;
  }
  return signed ? true : `no signature by ${verifier.name}`;
}

/** A signed note's key id: the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key). */
function noteKeyId(name: string, rawPublicKey: Uint8Array): Buffer {
  return createHash("sha256")
    .update(name, "utf8")
    .update("\n")
    .update(Buffer.from([ED25519_ALGORITHM]))
    .update(rawPublicKey)
    .digest()
    .subarray(0, 4);
}

/** The DER of an Ed25519 SubjectPublicKeyInfo before its 32 key bytes (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

function rawEd25519(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType !== "ed25519")
    throw new Error(`a checkpoint key is Ed25519, not ${publicKey.asymmetricKeyType ?? "unknown"}`);
  const der = publicKey.export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(ED25519_SPKI_PREFIX.length));
}
