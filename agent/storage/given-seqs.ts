import { CLOCK_FLOOR_MS } from "../../core/clock.js";
import type { ReeferReading, UnsequencedReading } from "../../core/record.js";
import { sequenced } from "../outbox/sequences.js";

/**
 * The highest seq given to each container, stored or held: GuardedOutbox's memory of seqs, so
 * that they keep rising while the outbox's storage fails (memory gives them), and the outbox is
 * moved up to them when it is back. A container never seen, whose disk cannot answer, starts at
 * the wall clock in ms: above any seq an outbox can hold (as after a corrupt file; see
 * openOutboxDatabase).
 */
export class GivenSeqs {
  private readonly highest = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    /** The container's last seq on disk, or undefined when the disk cannot say. */
    private readonly fromDisk: (containerId: string) => number | undefined,
  ) {}

  /** Each container's highest seq given so far. */
  get all(): ReadonlyMap<string, number> {
    return this.highest;
  }

  /** Whether the container's seq is known here (without asking the disk). */
  knows(containerId: string): boolean {
    return this.highest.has(containerId);
  }

  /** The container's highest seq: known here, or from the disk, or the wall clock. */
  last(containerId: string): number {
    const known = this.highest.get(containerId);
    if (known !== undefined) return known;
    const seq = this.fromDisk(containerId) ?? Math.max(Math.floor(this.now()), CLOCK_FLOOR_MS);
    this.highest.set(containerId, seq);
    return seq;
  }

  /** The readings with the next seqs after the highest given (seqs given by memory). */
  next(readings: readonly UnsequencedReading[]): ReeferReading[] {
    return sequenced(readings, (containerId) => this.last(containerId));
  }

  /** Seqs given elsewhere (the outbox's own): the highest of each container goes up to them. */
  note(readings: readonly ReeferReading[]): void {
    for (const r of readings) {
      if ((this.highest.get(r.container_id) ?? -1) < r.seq) this.highest.set(r.container_id, r.seq);
    }
  }

  /** Learns a container's seq from a disk about to be let go, unless known already. */
  learn(containerId: string, seq: number): void {
    if (!this.highest.has(containerId)) this.highest.set(containerId, seq);
  }
}
