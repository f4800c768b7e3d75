import { generateKeyPairSync } from "node:crypto";

import { describe, expect, it } from "vitest";

import {
  checkpointBody,
  checkpointKeyName,
  checkpointOrigin,
  publicKeyHex,
  verifierKeyFromHex,
  openCheckpoint,
  parseVerifierKey,
  signCheckpoint,
  verifierKey,
} from "./checkpoint.js";
import { EMPTY_ROOT } from "./merkle.js";

/** Signed checkpoints on this runtime's crypto (Go's `note` checks them in test/audit). */
describe("signed checkpoints", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const origin = checkpointOrigin("gw-0001");
  const checkpoint = { origin, size: 42, root: EMPTY_ROOT };
  const note = signCheckpoint(checkpoint, { name: origin, privateKey });
  const verifier = parseVerifierKey(verifierKey(origin, publicKey));

  it("writes the body, a blank line and one signature line, and opens what it signed", () => {
    expect(note.startsWith(`${checkpointBody(checkpoint)}\n\u2014 ${origin} `)).toBe(true);
    expect(verifierKey(origin, publicKey)).toMatch(/^reefer-edge\/gw-0001\+[0-9a-f]{8}\+A[Q-Za-f]/);
    expect(openCheckpoint(note, verifier)).toEqual({ ok: true, checkpoint, extensions: [] });
  });

  it("refuses an edited body, another key, and a note that is not one, saying why", () => {
    expect(openCheckpoint(note.replace("\n42\n", "\n43\n"), verifier)).toEqual({
      ok: false,
      reason: `the signature by ${origin} does not verify`,
    });
    const other = generateKeyPairSync("ed25519").publicKey;
    expect(openCheckpoint(note, parseVerifierKey(verifierKey(origin, other)))).toEqual({
      ok: false,
      reason: `no signature by ${origin}`,
    });
    expect(openCheckpoint("no blank line", verifier)).toMatchObject({ ok: false });
    expect(() => parseVerifierKey("name+00000000+AAAA")).toThrow("not an Ed25519 key");
    expect(() => checkpointBody({ ...checkpoint, origin: "two\nlines" })).toThrow(
      "one non-empty line",
    );
  });

  it("rebuilds a gateway's verifier key from the hex key its thing attribute holds", () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const hex = publicKeyHex(publicKey);
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    expect(verifierKeyFromHex("gw-0001", hex)).toBe(
      verifierKey(checkpointKeyName("gw-0001"), publicKey),
    );
    expect(() => verifierKeyFromHex("gw-0001", "abc")).toThrow(/64 digits/);
  });
});
