import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/support/tmp.js";
import { ReleaseServer } from "../../test/support/release-server.js";
import { downloadPackage, DownloadError, type PackageDownload } from "./download.js";

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * The package download against a stand-in for S3 on loopback: Range resumes after drops, a fresh
 * URL after an expired one, a partial file left by a power cut, and the checks before a package
 * takes its final name.
 */
describe("the package download", () => {
  const temp = makeTempDir();
  let server: ReleaseServer;
  beforeAll(async () => {
    server = await ReleaseServer.start();
  });
  afterAll(async () => {
    await server.stop();
    temp.cleanup();
  });

  let n = 0;
  function target(body: Buffer, overrides: Partial<PackageDownload> = {}): PackageDownload {
    const name = `p${++n}.deb`;
    server.put(name, body);
    let url = server.presign(name);
    return {
      file: join(temp.dir, name),
      size: body.length,
      sha256: sha256(body),
      url: (stale) => Promise.resolve(stale ? (url = server.presign(name)) : url),
      backoff: { initialDelayMs: 1, maxDelayMs: 5 },
      ...overrides,
    };
  }

  it("finishes a 30 MB package over a link that drops 5 times and an expired URL, sending at most 1.1 times its bytes", async () => {
    const body = randomBytes(30 * 1024 * 1024);
    const download = target(body);
    server.setDrops(5, 4_000_000);
    const sentBefore = server.bytesSent;
    // The first URL expires after the second drop: the next attempt is refused and asks again.
    let asked = 0;
    let firstUrl = "";
    const outcome = await downloadPackage({
      ...download,
      url: async (stale) => {
        const url = await download.url(stale);
        if (++asked === 1) firstUrl = url;
        if (asked === 3) server.expire(firstUrl);
        return url;
      },
      retrying: () => undefined,
    });
    expect(readFileSync(download.file).equals(body)).toBe(true);
    expect(existsSync(`${download.file}.part`)).toBe(false);
    expect(outcome.urlRefreshes).toBe(1);
    const sent = server.bytesSent - sentBefore;
    // A drop loses what was in flight (sent, never received): the cost on the wire is bounded.
    expect(sent).toBeLessThanOrEqual(1.1 * body.length);
    expect(outcome.bytesReceived).toBeLessThanOrEqual(sent);
    expect(outcome.bytesReceived).toBeGreaterThanOrEqual(body.length);
    const ranges = server.requests.filter((r) => r.path === "/p1.deb");
    expect(ranges.map((r) => r.status)).toEqual([200, 206, 403, 206, 206, 206, 206]);
    expect(ranges[1]?.range).toMatch(/^bytes=\d+-$/);
  });

  it("resumes from the partial file a power cut left, fetching only what is missing", async () => {
    const body = randomBytes(256 * 1024);
    const download = target(body);
    writeFileSync(`${download.file}.part`, body.subarray(0, 100_000));
    writeFileSync(`${download.file}.part.synced`, "100000");
    const outcome = await downloadPackage(download);
    expect(outcome.bytesReceived).toBe(body.length - 100_000);
    expect(readFileSync(download.file).equals(body)).toBe(true);
    expect(existsSync(`${download.file}.part.synced`)).toBe(false);
  });

  it("trusts a partial file only as far as its last checkpoint: a tail the power cut tore is fetched again", async () => {
    const body = randomBytes(256 * 1024);
    const download = target(body);
    // What the page cache never wrote reads back as zeros, past the last synced length.
    writeFileSync(
      `${download.file}.part`,
      Buffer.concat([body.subarray(0, 100_000), Buffer.alloc(50_000)]),
    );
    writeFileSync(`${download.file}.part.synced`, "100000");
    const outcome = await downloadPackage(download);
    expect(outcome.bytesReceived).toBe(body.length - 100_000);
    expect(readFileSync(download.file).equals(body)).toBe(true);
  });

  it("starts over from a partial file with no checkpoint, and once more if a resumed one fails its hash", async () => {
    const body = randomBytes(64 * 1024);
    const unvouched = target(body);
    writeFileSync(`${unvouched.file}.part`, body.subarray(0, 10_000));
    expect((await downloadPackage(unvouched)).bytesReceived).toBe(body.length);

    // A checkpoint that vouches for bytes a failing card changed since.
    const corrupted = target(body);
    const part = Buffer.from(body.subarray(0, 30_000));
    part[5] = (part[5] ?? 0) ^ 0xff;
    writeFileSync(`${corrupted.file}.part`, part);
    writeFileSync(`${corrupted.file}.part.synced`, "30000");
    const reasons: string[] = [];
    const outcome = await downloadPackage({
      ...corrupted,
      retrying: (reason) => reasons.push(reason),
    });
    expect(reasons).toContain("the resumed package's SHA-256 did not match: starting over");
    expect(outcome.bytesReceived).toBe(body.length - 30_000 + body.length);
    expect(readFileSync(corrupted.file).equals(body)).toBe(true);
  });

  it("does nothing for a package already there and whole", async () => {
    const body = randomBytes(10_000);
    const download = target(body);
    writeFileSync(download.file, body);
    expect(await downloadPackage(download)).toEqual({
      bytesReceived: 0,
      attempts: 0,
      urlRefreshes: 0,
    });
  });

  it("refuses a package whose SHA-256 is not the signed one, and keeps nothing of it", async () => {
    const body = randomBytes(10_000);
    const download = { ...target(body), sha256: "0".repeat(64) };
    await expect(downloadPackage(download)).rejects.toThrow(/SHA-256 is not the one signed for it/);
    expect(existsSync(download.file)).toBe(false);
    expect(existsSync(`${download.file}.part`)).toBe(false);
  });

  it("refuses more bytes than were signed for", async () => {
    const body = randomBytes(10_000);
    const download = { ...target(body), size: 5_000 };
    await expect(downloadPackage(download)).rejects.toThrow(/more than the 5000 bytes signed for/);
    expect(existsSync(download.file)).toBe(false);
  });

  it("gives up on a URL that is not there, naming the status", async () => {
    const download = target(randomBytes(100));
    const gone = {
      ...download,
      url: () => Promise.resolve(`http://127.0.0.1:${server.port}/missing.deb?X-Amz-Signature=x`),
    };
    await expect(downloadPackage(gone)).rejects.toThrow(DownloadError);
    await expect(downloadPackage(gone)).rejects.toThrow(/answered 404/);
  });

  it("gives up after attempts that add nothing, naming the last reason", async () => {
    const download = target(randomBytes(100));
    const refused = {
      ...download,
      url: () => Promise.resolve(`http://127.0.0.1:${server.port}/x?X-Amz-Signature=`),
      maxStalledAttempts: 3,
    };
    await expect(downloadPackage(refused)).rejects.toThrow(
      /no progress in 3 attempts at byte 0 of 100: the server refused the URL \(403\)/,
    );
  });

  it("paces its reads under the bandwidth cap", async () => {
    // A lower bound only: a busy machine can make it slower, never faster.
    const body = randomBytes(96 * 1024);
    const started = performance.now();
    await downloadPackage({ ...target(body), maxBytesPerSecond: 64 * 1024 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(1400);
  });

  it("stops at once when aborted", async () => {
    const body = randomBytes(96 * 1024);
    const controller = new AbortController();
    const pending = downloadPackage({
      ...target(body),
      maxBytesPerSecond: 1024,
      signal: controller.signal,
    });
    controller.abort(new Error("stopping"));
    await expect(pending).rejects.toThrow(/stopping/);
  });
});
