import type { CaptureBatch, CaptureResult } from "../outbox/outbox.js";
import type { ReeferReading, UnsequencedReading } from "../../core/record.js";
import type { StorageAlert } from "../../core/alerts.js";

/** What the capture stage needs of the outbox: seqs, one commit a tick, durability. */
export interface CaptureStore {
  nextSeqs(readings: readonly UnsequencedReading[]): ReeferReading[];
  lastSeq(containerId: string): number;
  commit(batch: CaptureBatch): GuardedCaptureResult;
  afterDurable(callback: () => void): void;
  /** storage_failing records due, for the next commit. */
  storageAlerts(): StorageAlert[];
}

/** What a commit did, and whether it reached the disk or only memory. */
export interface GuardedCaptureResult extends CaptureResult {
  readonly stored: boolean;
}
