import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readFile, rename, rm, stat, truncate } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { Backoff } from "../../core/backoff.js";

export interface PackageDownload {
  /** Where the verified package ends up; the partial download is kept beside it (`.part`). */
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  /**
   * The URL to fetch. A pre-signed URL expires: after the server refused it, `stale` is true and a
   * fresh one is wanted (describe the job again).
   */
  readonly url: (stale: boolean) => Promise<string>;
  readonly maxBytesPerSecond?: number | undefined;
  /** A connection that delivers nothing for this long is dropped and resumed (default 60 s). */
  readonly idleMs?: number;
  /** Attempts in a row that add no byte before the download gives up (default 30). */
  readonly maxStalledAttempts?: number;
  readonly backoff?: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  readonly random?: () => number;
  readonly signal?: AbortSignal;
  /** Told of each resumed attempt and its reason, for the log. */
  readonly retrying?: (reason: string, have: number) => void;
}

export interface DownloadOutcome {
  /** Bytes that came over the link in this call, every attempt counted. */
  readonly bytesReceived: number;
  readonly attempts: number;
  /** Times the URL was asked for again after the server refused it (an expired URL). */
  readonly urlRefreshes: number;
}

/** A download that cannot finish: the job fails with this message. */
export class DownloadError extends Error {
  override name = "DownloadError";
}

/**
 * Fetches a release package over a link that drops: each attempt asks for the bytes still
 * missing with an HTTP Range request and appends them to the partial file, so a drop costs only
 * what was in flight; a refused URL (403, an expired pre-signed URL) is asked for again; the
 * bandwidth is capped by pacing the reads. The whole file's size and SHA-256 are checked before
 * it is renamed into place (written, fsynced, renamed: a power cut leaves the partial or the
 * whole, never a torn package under the final name).
 *
 * Written here rather than taken from a library: the download managers on npm resume within one
 * process's life, not from a partial file left by a power cut, and none paces its reads.
 */
export async function downloadPackage(options: PackageDownload): Promise<DownloadOutcome> {
  const partial = `${options.file}.part`;
  if (await matches(options.file, options.size, options.sha256)) {
    return { bytesReceived: 0, attempts: 0, urlRefreshes: 0 };
  }
  // Only what the checkpoint says was synced is trusted after a power cut: the file's tail past
  // it may hold what the page cache never wrote (the guest power-cut rig found a resumed package
  // whose hash no longer matched).
  let have = Math.min(await sizeOf(partial), await checkpointOf(partial));
  await truncate(partial, have).catch(() => undefined);
  // A resumed partial that still fails its hash (a card that corrupted it) is fetched once more
  // from the start before the job is failed.
  let resumed = have > 0;
  const backoff = new Backoff({
    initialDelayMs: options.backoff?.initialDelayMs ?? 1000,
    maxDelayMs: options.backoff?.maxDelayMs ?? 300_000,
    random: options.random ?? Math.random,
  });
  const maxStalled = options.maxStalledAttempts ?? 30;
  let bytesReceived = 0;
  let attempts = 0;
  let urlRefreshes = 0;
  let stalled = 0;
  let refused = false;
  if (have > options.size) {
    await truncate(partial, 0);
    await writeCheckpoint(partial, 0);
    have = 0;
  }
  for (;;) {
    options.signal?.throwIfAborted();
    if (have === options.size) {
      if (await matches(partial, options.size, options.sha256)) {
        await rename(partial, options.file);
        await rm(checkpointFile(partial), { force: true });
        return { bytesReceived, attempts, urlRefreshes };
      }
      await rm(partial, { force: true });
      await rm(checkpointFile(partial), { force: true });
      if (resumed) {
        resumed = false;
        have = 0;
        options.retrying?.("the resumed package's SHA-256 did not match: starting over", 0);
        continue;
      }
      throw new DownloadError(
        `the package's SHA-256 is not the one signed for it (${options.sha256}): refused`,
      );
    }
    attempts++;
    const attempt = await fetchRange(partial, have, options, refused);
    refused = attempt.kind === "refused";
    bytesReceived += attempt.received;
    have = attempt.have;
    if (attempt.kind === "fatal") throw new DownloadError(attempt.reason);
    if (attempt.kind === "done") continue;
    if (attempt.received > 0) {
      stalled = 0;
      backoff.reset();
    } else if (++stalled >= maxStalled) {
      throw new DownloadError(
        `no progress in ${stalled} attempts at byte ${have} of ${options.size}: ${attempt.reason}`,
      );
    }
    options.retrying?.(attempt.reason, have);
    if (attempt.kind === "refused") urlRefreshes++;
    // A refused URL is asked for again at once; a drop waits, so a dead link is not hammered.
    if (attempt.kind === "retry") {
      await sleep(backoff.next(), undefined, options.signal ? { signal: options.signal } : {});
    }
  }
}

type Attempt =
  | { kind: "done"; received: number; have: number }
  | { kind: "retry" | "refused" | "fatal"; received: number; have: number; reason: string };

/** One GET of the missing range, appended to the partial file. */
async function fetchRange(
  partial: string,
  have: number,
  options: PackageDownload,
  stale: boolean,
): Promise<Attempt> {
  const idle = new AbortController();
  const idleMs = options.idleMs ?? 60_000;
  let idleTimer = setTimeout(() => idle.abort(), idleMs);
  const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal;
  let received = 0;
  let position = have;
  let checkpointed = have;
  const file = await open(partial, have === 0 ? "w" : "r+");
  try {
    const url = await options.url(stale);
    const response = await fetch(url, {
      headers: have > 0 ? { Range: `bytes=${have}-` } : {},
      signal,
    });
    if (response.status === 403 || response.status === 401) {
      await response.body?.cancel();
      return {
        kind: "refused",
        received,
        have,
        reason: `the server refused the URL (${response.status}): asking for a fresh one`,
      };
    }
    if (response.status === 416) {
      // The partial is longer than what the server holds, or the range is past its end: start over.
      await response.body?.cancel();
      await file.truncate(0);
      await writeCheckpoint(partial, 0);
      return { kind: "retry", received, have: 0, reason: "range not satisfiable: starting over" };
    }
    if (response.status >= 400 && response.status < 500) {
      await response.body?.cancel();
      return {
        kind: "fatal",
        received,
        have,
        reason: `the package URL answered ${response.status} ${response.statusText}`,
      };
    }
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      return { kind: "retry", received, have, reason: `the server answered ${response.status}` };
    }
    if (response.status === 200) {
      // The server ignored the range: the whole file comes again.
      position = 0;
      checkpointed = 0;
      await file.truncate(0);
      await writeCheckpoint(partial, 0);
    } else if (!contentRangeStartsAt(response.headers.get("content-range"), have)) {
      await response.body?.cancel();
      await file.truncate(0);
      await writeCheckpoint(partial, 0);
      return {
        kind: "retry",
        received,
        have: 0,
        reason: `an unexpected Content-Range (${response.headers.get("content-range")}): starting over`,
      };
    }
    const started = performance.now();
    let paced = 0;
    for await (const chunk of response.body ?? []) {
      const bytes = chunk as Uint8Array;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => idle.abort(), idleMs);
      if (position + bytes.length > options.size) {
        return {
          kind: "fatal",
          received: received + bytes.length,
          have: position,
          reason: `the server sent more than the ${options.size} bytes signed for`,
        };
      }
      await file.write(bytes, 0, bytes.length, position);
      position += bytes.length;
      received += bytes.length;
      paced += bytes.length;
      if (position - checkpointed >= CHECKPOINT_BYTES) {
        await file.datasync();
        await writeCheckpoint(partial, position);
        checkpointed = position;
      }
      if (options.maxBytesPerSecond !== undefined) {
        const due = (paced / options.maxBytesPerSecond) * 1000 - (performance.now() - started);
        if (due > 0) {
          // The pause is ours, not the link's: the idle clock stops while pacing.
          clearTimeout(idleTimer);
          await sleep(due, undefined, options.signal ? { signal: options.signal } : {});
          idleTimer = setTimeout(() => idle.abort(), idleMs);
        }
      }
    }
    await file.sync();
    await writeCheckpoint(partial, position);
    return position === options.size
      ? { kind: "done", received, have: position }
      : {
          kind: "retry",
          received,
          have: position,
          reason: `the connection ended at byte ${position}`,
        };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    await file.sync().catch(() => undefined);
    await writeCheckpoint(partial, position).catch(() => undefined);
    const reason = idle.signal.aborted
      ? `nothing received for ${idleMs} ms`
      : `the download broke off: ${(error as Error).message}`;
    return { kind: "retry", received, have: position, reason };
  } finally {
    clearTimeout(idleTimer);
    await file.close();
  }
}

function contentRangeStartsAt(header: string | null, start: number): boolean {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header ?? "");
  return match !== null && Number(match[1]) === start;
}

/** A checkpoint each mebibyte: a power cut costs at most that much of the download again. */
const CHECKPOINT_BYTES = 1024 * 1024;

const checkpointFile = (partial: string) => `${partial}.synced`;

/**
 * Records that the partial file's first `length` bytes are on the disk (synced before this is
 * written). Written beside and renamed: a cut leaves this checkpoint or the one before, both true.
 */
async function writeCheckpoint(partial: string, length: number): Promise<void> {
  const temp = `${checkpointFile(partial)}.tmp`;
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(String(length));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, checkpointFile(partial));
}

/** The length the last checkpoint vouches for; 0 with none (nothing of the partial trusted). */
async function checkpointOf(partial: string): Promise<number> {
  try {
    const length = Number((await readFile(checkpointFile(partial), "utf8")).trim());
    return Number.isSafeInteger(length) && length >= 0 ? length : 0;
  } catch {
    return 0;
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** Whether the file is there with the size and the SHA-256 expected. */
async function matches(file: string, size: number, sha256: string): Promise<boolean> {
  if ((await sizeOf(file)) !== size) return false;
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex") === sha256;
}
