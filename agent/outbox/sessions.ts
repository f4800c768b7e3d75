import { AcknowledgedRows, type TakenRow } from "./acknowledged-rows.js";
import { LANE, type Lane, type OutboxRow } from "./publish-queue.js";
import type { RowRecord } from "./statements.js";
import type { OutboxStore } from "./store.js";

/**
 * Publishing sessions over the outbox (the PublishQueue's take / accept / reject / release).
 * Lanes: alerts first, then live telemetry, then backfill, which is the telemetry captured
 * before the current connection began. Taken rows stay stored until accepted or rejected.
 */
export class PublishSessions {
  /**
   * Rows in flight, with what the tally needs of those taken this session (so that their
   * acknowledgement can be deferred); null for rows marked in flight from outside (write-behind).
   */
  private readonly inflight = new Map<number, TakenRow | null>();
  /** Acknowledged rows whose delete waits for the next transaction. */
  private readonly acknowledged: AcknowledgedRows;
  private session = { boundary: 0, alertCursor: 0, liveCursor: 0 };
  private backfillCursors = new Map<string, number>();
  private oldest: { generation: number; capturedAt: number | null } | null = null;

  constructor(
    private readonly store: OutboxStore,
    private readonly now: () => number,
  ) {
    this.acknowledged = new AcknowledgedRows(store, (ids) => {
      for (const id of ids) this.inflight.delete(id);
    });
  }

  /**
   * When the oldest row still to be sent was captured (wall ms); null when there is none. Kept
   * until the rows change (the store's generation): status pages, metrics and a fleet worker's
   * stats ask every second, and the query was 14 % of a fleet worker's busy time.
   */
  oldestCapturedAt(): number | null {
    const generation = this.store.generation;
    if (this.oldest?.generation !== generation)
      this.oldest = { generation, capturedAt: this.findOldestCapturedAt() };
    return this.oldest.capturedAt;
  }

  private findOldestCapturedAt(): number | null {
    const { oldest, oldestRows } = this.store.statements;
    const acknowledged = this.acknowledged;
    if (acknowledged.size === 0) return oldest.get()?.captured_at ?? null;
    // Acknowledged rows wait for the next commit's delete: they are not waiting to be sent.
    const first = oldestRows.all(acknowledged.size + 1).find((row) => !acknowledged.has(row.id));
    return first?.captured_at ?? null;
  }

  /** Deletes the acknowledged rows now, in a transaction of their own. */
  flushAcknowledged(): void {
    this.acknowledged.flush();
  }

  beginSession(): void {
    // Everything not acknowledged is pending again: what was must be gone first.
    this.acknowledged.flush();
    this.inflight.clear();
    // Rows not yet synced (see WalSync) belong to the live lane, taken once they are durable.
    const boundary = Math.min(this.store.statements.maxId.get()?.id ?? 0, this.store.visibleId);
    this.session = { boundary, alertCursor: 0, liveCursor: boundary };
    this.backfillCursors = new Map(
      this.store.statements.backlogContainers.all(boundary).map((r) => [r.container_id, 0]),
    );
  }

  takeAlerts(limit: number): OutboxRow[] {
    if (this.store.tally.rows.alert === 0) return []; // the common case, without a query
    return this.takeLane(LANE.alert, "alertCursor", limit);
  }

  takeLive(limit: number): OutboxRow[] {
    const { liveCursor } = this.session;
    const visibleId = this.store.visibleId;
    if (liveCursor >= visibleId) return []; // nothing new
    // The rows just committed, from memory; the table when the cursor moved back (a release).
    const rows = this.store.liveAfter(liveCursor, visibleId, limit, (id) => this.inflight.has(id));
    if (rows === null) return this.takeLane(LANE.telemetry, "liveCursor", limit);
    this.session.liveCursor = lastId(rows, liveCursor);
    return this.markTaken(rows);
  }

  /** The next rows of a lane after its cursor, which moves past them. */
  private takeLane(lane: Lane, cursor: "alertCursor" | "liveCursor", limit: number): OutboxRow[] {
    const { laneAfter } = this.store.statements;
    const rows = this.scan(
      (after, n) => laneAfter.all(lane, after, this.store.visibleId, n),
      this.session[cursor],
      limit,
    );
    this.session[cursor] = lastId(rows, this.session[cursor]);
    return this.markTaken(rows);
  }

  takeBackfill(maxBytes: number, maxRows: number, perRowBytes = 0): OutboxRow[] {
    const { containerAfter } = this.store.statements;
    for (const containerId of [...this.backfillCursors.keys()]) {
      const cursor = this.backfillCursors.get(containerId) ?? 0;
      const batch: RowRecord[] = [];
      let size = 0;
      let after = cursor;
      // Read in pages sized by how many more rows seem to fit, so a small envelope reads few rows.
      let pageRows = 8;
      fill: while (batch.length < maxRows) {
        const want = Math.min(pageRows, maxRows - batch.length);
        const page = this.scan(
          (from, n) => containerAfter.all(containerId, from, this.session.boundary, n),
          after,
          want,
        );
        for (const row of page) {
          if (batch.length > 0 && size + row.bytes + perRowBytes > maxBytes) break fill;
          batch.push(row);
          size += row.bytes + perRowBytes;
        }
        if (page.length < want) break; // the container's backlog ends here
        after = lastId(page, after);
        const perRow = size / batch.length;
        pageRows = Math.max(8, Math.ceil(((maxBytes - size) / perRow) * 1.1));
      }
      // Round robin: this container goes to the back of the queue.
      this.backfillCursors.delete(containerId);
      if (batch.length === 0) continue; // drained (or all in flight): drop it
      this.backfillCursors.set(containerId, lastId(batch, cursor));
      return this.markTaken(batch);
    }
    return [];
  }

  /**
   * The broker acknowledged these rows: they leave the outbox. `defer`: with the next
   * transaction (AcknowledgedRows). Otherwise in a transaction of their own, without its own
   * fsync (`relaxSync`). Either way a delete lost to a power cut sends the rows again (a
   * duplicate, which consumers drop by container_id and seq), never loses a reading.
   */
  accept(ids: readonly number[], relaxSync: boolean, defer = false): void {
    if (ids.length === 0) return;
    let now: readonly number[] = ids;
    if (defer) {
      // Deleted by the next transaction (AcknowledgedRows); a row taken otherwise (marked in
      // flight for write-behind, or taken before this session) has nothing for the tally, and
      // goes now.
      const rest: number[] = [];
      for (const id of ids) {
        // Left in flight until its delete commits: it is not taken again meanwhile.
        const row = this.inflight.get(id);
        if (row) this.acknowledged.acknowledge(id, row);
        else rest.push(id);
      }
      if (rest.length === 0) return;
      now = rest;
    }
    const db = this.store.db;
    if (relaxSync) db.pragma("synchronous = NORMAL");
    try {
      this.store.atomically(() => {
        for (const id of now) {
          this.inflight.delete(id);
          this.store.delete(id);
        }
      });
    } finally {
      if (relaxSync) db.pragma("synchronous = FULL");
    }
  }

  reject(ids: readonly number[], reason: string): void {
    if (ids.length === 0) return;
    const failedAt = Math.floor(this.now());
    this.store.atomically(() => {
      let moved = 0;
      for (const id of ids) {
        this.inflight.delete(id);
        this.store.statements.deadLetter.run(reason, failedAt, id);
        if (this.store.delete(id)) moved++;
      }
      this.store.count("dead_lettered", moved);
    });
  }

  release(rows: readonly OutboxRow[]): void {
    for (const row of rows) {
      if (this.acknowledged.has(row.id)) continue; // acknowledged already: never again
      this.inflight.delete(row.id);
      this.reveal(row.id, row.lane, row.containerId);
    }
  }

  /** Rows already in flight under other ids (see Outbox.markInFlight): skipped when taking. */
  markInFlight(ids: readonly number[]): void {
    for (const id of ids) this.inflight.set(id, null);
  }

  /** A row gone from the outbox another way (evicted): no longer in flight. */
  forget(id: number): void {
    this.inflight.delete(id);
  }

  /** Moves the cursor of the row's lane back over it, so it is taken again (or for the first time). */
  reveal(id: number, lane: Lane, containerId: string): void {
    if (lane === LANE.alert) {
      this.session.alertCursor = Math.min(this.session.alertCursor, id - 1);
    } else if (id > this.session.boundary) {
      this.session.liveCursor = Math.min(this.session.liveCursor, id - 1);
    } else {
      const cursor = this.backfillCursors.get(containerId) ?? Number.MAX_SAFE_INTEGER;
      this.backfillCursors.set(containerId, Math.min(cursor, id - 1));
    }
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /**
   * Reads rows after `cursor`, skipping those in flight, until `limit` rows or the end. Rows
   * taken in this session are behind their cursor already; only a release moves a cursor back
   * over rows still in flight, so skipping is rare and pages stay the size asked for.
   */
  private scan(
    read: (after: number, limit: number) => RowRecord[],
    cursor: number,
    limit: number,
  ): RowRecord[] {
    const out: RowRecord[] = [];
    let after = cursor;
    while (out.length < limit) {
      const requested = limit - out.length;
      const page = read(after, requested);
      for (const row of page) {
        if (!this.inflight.has(row.id)) out.push(row);
      }
      if (page.length < requested) break; // reached the end
      after = page[page.length - 1]?.id ?? after;
    }
    return out;
  }

  private markTaken(rows: readonly RowRecord[]): OutboxRow[] {
    return rows.map((row) => {
      this.inflight.set(row.id, { lane: row.lane as Lane, bytes: row.bytes });
      return {
        id: row.id,
        lane: row.lane as Lane,
        containerId: row.container_id,
        seq: row.seq,
        capturedAt: row.captured_at,
        bytes: row.bytes,
        payload: row.payload,
      };
    });
  }
}

function lastId(rows: readonly { id: number }[], fallback: number): number {
  return rows.length === 0 ? fallback : Math.max(fallback, rows[rows.length - 1]?.id ?? fallback);
}
