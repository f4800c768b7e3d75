import type { AlertDraft, Outbox } from "../outbox/outbox.js";
import { correctedReading } from "../outbox/clock-rewrite.js";
import { LANE, type OutboxRow } from "../outbox/publish-queue.js";
import type { ReeferReading } from "../../core/record.js";

/** A row held in memory while the disk fails, with what is needed to store it later. */
interface HeldRow extends OutboxRow {
  readonly lane: typeof LANE.alert | typeof LANE.telemetry;
  /** The reading or alert itself, to be committed to the outbox once the disk is back. */
  readonly reading: ReeferReading | null;
  readonly alert: AlertDraft | null;
  /** The ClockGuard epoch the reading was taken under; null when the clock was trusted. */
  readonly epoch: number | null;
  taken: boolean;
  /**
   * Ever handed to the publisher (taken, even if released since): a copy may have reached the
   * broker without a log index, so the stored one must stay outside the audit log too.
   */
  sent: boolean;
}

/** What is left in memory to store once the disk is back, in capture order. */
export interface HeldBatch {
  readonly readings: ReeferReading[];
  /** Per reading: ever handed to the publisher (see HeldRow.sent). */
  readonly sent: boolean[];
  readonly alerts: AlertDraft[];
  /** Per alert: ever handed to the publisher. */
  readonly alertsSent: boolean[];
}

/**
 * The rows captured while the outbox's disk fails: published from here (alerts, then readings
 * one a message) so the live lane goes on without a disk, and handed back to the outbox when it
 * opens again. Bounded: past `maxRows` the oldest readings go (the caller counts them), alerts
 * only when nothing else is left. Ids are negative, so they never meet the outbox's.
 */
export class MemoryLane {
  private readonly rows = new Map<number, HeldRow>();
  private nextId = -1;
  private alertCount = 0;

  constructor(private readonly maxRows: number) {}

  get size(): number {
    return this.rows.size;
  }

  /** Holds a tick's readings and alerts; returns what was dropped to stay within the bound. */
  hold(
    readings: readonly ReeferReading[],
    alerts: readonly AlertDraft[],
    capturedAt: number,
    epoch: number | null,
  ): { droppedReadings: number; droppedAlerts: number; dropped: string[] } {
    for (const alert of alerts) {
      this.add(LANE.alert, alert.containerId, null, JSON.stringify(alert.payload), capturedAt, {
        alert,
        epoch: null,
      });
    }
    for (const reading of readings) {
      this.add(
        LANE.telemetry,
        reading.container_id,
        reading.seq,
        JSON.stringify(reading),
        capturedAt,
        {
          reading,
          epoch,
        },
      );
    }
    let droppedReadings = 0;
    let droppedAlerts = 0;
    /** The dropped readings' payloads: the audit log declares those it stamped. */
    const dropped: string[] = [];
    for (const [id, row] of this.rows) {
      if (this.rows.size <= this.maxRows) break;
      const onlyAlertsLeft = this.alertCount === this.rows.size;
      if (row.lane === LANE.alert && !onlyAlertsLeft) continue;
      this.remove(id);
      if (row.lane === LANE.alert) droppedAlerts++;
      else {
        droppedReadings++;
        dropped.push(row.payload);
      }
    }
    return { droppedReadings, droppedAlerts, dropped };
  }

  /** A new broker connection: everything not acknowledged is to be sent again. */
  beginSession(): void {
    for (const row of this.rows.values()) row.taken = false;
  }

  takeAlerts(limit: number): OutboxRow[] {
    return this.alertCount === 0 ? [] : this.take(LANE.alert, limit);
  }

  takeLive(limit: number): OutboxRow[] {
    return this.take(LANE.telemetry, limit);
  }

  private take(lane: HeldRow["lane"], limit: number): OutboxRow[] {
    const taken: OutboxRow[] = [];
    for (const row of this.rows.values()) {
      if (taken.length >= limit) break;
      if (row.lane !== lane || row.taken) continue;
      row.taken = true;
      row.sent = true;
      taken.push(row);
    }
    return taken;
  }

  /** Acknowledged or refused for good: gone (ids of rows no longer here are ignored). */
  remove(id: number): void {
    const row = this.rows.get(id);
    if (!row) return;
    this.rows.delete(id);
    if (row.lane === LANE.alert) this.alertCount--;
  }

  /** Not delivered this time: to be taken again. */
  release(id: number): void {
    const row = this.rows.get(id);
    if (row) row.taken = false;
  }

  pending(): { alerts: number; telemetry: number } {
    return { alerts: this.alertCount, telemetry: this.rows.size - this.alertCount };
  }

  /** Readings of a clock epoch move by `deltaMs` and become "synced" (see ClockCorrection). */
  correctClock(epoch: number, deltaMs: number): number {
    let corrected = 0;
    for (const [id, row] of this.rows) {
      const reading = row.reading;
      if (!reading || row.epoch !== epoch) continue;
      const moved = correctedReading(reading, deltaMs);
      const payload = JSON.stringify(moved);
      const bytes = Buffer.byteLength(payload);
      this.rows.set(id, { ...row, reading: moved, payload, bytes, epoch: null });
      corrected++;
    }
    return corrected;
  }

  /**
   * Everything still held, in capture order, and the lane emptied: for the outbox to store.
   * Readings of an epoch not corrected yet are stored as they are ("unsynced").
   */
  drain(): HeldBatch {
    const readings: ReeferReading[] = [];
    const sent: boolean[] = [];
    const alerts: AlertDraft[] = [];
    const alertsSent: boolean[] = [];
    for (const row of this.rows.values()) {
      if (row.reading) {
        readings.push(row.reading);
        sent.push(row.sent);
      }
      if (row.alert) {
        alerts.push(row.alert);
        alertsSent.push(row.sent);
      }
    }
    this.rows.clear();
    this.alertCount = 0;
    return { readings, sent, alerts, alertsSent };
  }

  /** When the oldest row held was captured (wall ms); null when nothing is held. */
  get oldestCapturedAt(): number | null {
    // A Map iterates in insertion order, and rows are added as they are captured.
    for (const row of this.rows.values()) return row.capturedAt;
    return null;
  }

  /**
   * The readings held, grouped by clock epoch (each group is one commit), with their ids; the
   * rows stay until `forget`: if storing them fails, nothing is lost.
   */
  readingsByEpoch(): {
    epoch: number | null;
    ids: number[];
    readings: ReeferReading[];
    /** Per reading: the publisher has it in flight. */
    taken: boolean[];
    /** Per reading: ever handed to the publisher (see HeldRow.sent). */
    sent: boolean[];
  }[] {
    const groups = new Map<
      number | null,
      { ids: number[]; readings: ReeferReading[]; taken: boolean[]; sent: boolean[] }
    >();
    for (const row of this.rows.values()) {
      if (!row.reading) continue;
      const group = groups.get(row.epoch) ?? { ids: [], readings: [], taken: [], sent: [] };
      group.ids.push(row.id);
      group.readings.push(row.reading);
      group.taken.push(row.taken);
      group.sent.push(row.sent);
      groups.set(row.epoch, group);
    }
    return [...groups].map(([epoch, group]) => ({ epoch, ...group }));
  }

  /** Rows now stored elsewhere: gone from here. */
  forget(ids: readonly number[]): void {
    for (const id of ids) this.remove(id);
  }

  /** The readings' payloads among `ids` (the audit log declares those it stamped, if refused). */
  payloadsOf(ids: readonly number[]): string[] {
    return ids.flatMap((id) => {
      const row = this.rows.get(id);
      return row?.reading ? [row.payload] : [];
    });
  }

  private add(
    lane: HeldRow["lane"],
    containerId: string,
    seq: number | null,
    payload: string,
    capturedAt: number,
    what: { reading?: ReeferReading; alert?: AlertDraft; epoch: number | null },
  ): void {
    const id = this.nextId--;
    this.rows.set(id, {
      id,
      lane,
      containerId,
      seq,
      capturedAt,
      bytes: Buffer.byteLength(payload),
      payload,
      reading: what.reading ?? null,
      alert: what.alert ?? null,
      epoch: what.epoch,
      taken: false,
      sent: false,
    });
    if (lane === LANE.alert) this.alertCount++;
  }
}

/**
 * The outbox opened again: what memory held is committed to it, in one transaction, and
 * reported stored once durable (as stored: stamped by the audit log where memory had not sent
 * them). What memory may have published goes outside the audit log (see the lane's `sent`).
 * Returns what was drained.
 */
export function storeWhatMemoryHeld(
  outbox: Outbox,
  memory: MemoryLane,
  stored: ((readings: readonly ReeferReading[]) => void) | undefined,
): ReturnType<MemoryLane["drain"]> {
  const held = memory.drain();
  if (held.readings.length === 0 && held.alerts.length === 0) return held;
  const result = outbox.commit({
    readings: held.readings,
    alerts: held.alerts,
    unlogged: held.sent,
    unloggedAlerts: held.alertsSent,
  });
  if (stored && result.readings.length > 0) outbox.afterDurable(() => stored(result.readings));
  return held;
}
