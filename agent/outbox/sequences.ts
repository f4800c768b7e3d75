import { withSeq, type ReeferReading, type UnsequencedReading } from "../../core/record.js";
import type { Statements } from "./statements.js";

/**
 * Each container's `seq`: strictly increasing, stored in the `sequences` table in the same
 * transaction as the readings that use it, so it survives restarts and never goes back. The
 * last committed value is cached per container.
 */
export class Sequences {
  private readonly committed = new Map<string, number>();

  constructor(
    private readonly statements: Statements,
    /** Where sequences start in this database file (above a replaced corrupt file's). */
    private readonly base: number,
  ) {}

  /**
   * The readings with the next seqs of their containers, as the next commit will store them.
   * Nothing is stored: the commit that carries them does that (`save`).
   */
  next(readings: readonly UnsequencedReading[]): ReeferReading[] {
    return sequenced(readings, (containerId) => this.last(containerId));
  }

  /**
   * Stores a container's seq, never below what is stored (a reservation ahead of use may be);
   * inside the commit's transaction.
   */
  save(containerId: string, seq: number): void {
    this.statements.saveSeq.run(containerId, seq);
    this.committed.set(containerId, Math.max(seq, this.committed.get(containerId) ?? seq));
  }

  /**
   * Sets a container's last seq to exactly `seq`, below a reservation: only when every seq
   * given out is at most `seq` (a graceful stop giving back the unused part of a reservation).
   */
  settle(containerId: string, seq: number): void {
    this.statements.setSeq.run(containerId, seq);
    this.committed.set(containerId, seq);
  }

  /** After a rollback: the cache may be ahead of the database. */
  forgetCache(): void {
    this.committed.clear();
  }

  /** The last seq committed for a container (the database's base when it has none). */
  last(containerId: string): number {
    let seq = this.committed.get(containerId);
    if (seq === undefined) {
      seq = this.statements.lastSeq.get(containerId)?.last_seq ?? this.base;
      this.committed.set(containerId, seq);
    }
    return seq;
  }
}

/**
 * The readings with the seqs after `last` of their containers, several of one container in a
 * batch numbered on from each other.
 */
export function sequenced(
  readings: readonly UnsequencedReading[],
  last: (containerId: string) => number,
): ReeferReading[] {
  const taken = new Map<string, number>();
  return readings.map((reading) => {
    const seq = (taken.get(reading.container_id) ?? last(reading.container_id)) + 1;
    taken.set(reading.container_id, seq);
    return withSeq(reading, seq);
  });
}
