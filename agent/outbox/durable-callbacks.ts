/**
 * Callbacks waiting for rows to be durable, in commit order: with a background WAL sync (WalSync)
 * a committed row is on the disk only once the sync covering it is done.
 */
export class DurableCallbacks {
  private waiting: { id: number; run: () => void }[] = [];

  /** Runs `callback` once rows up to `id` are durable. */
  add(id: number, callback: () => void): void {
    this.waiting.push({ id, run: callback });
  }

  /** Rows up to `id` are durable: runs what waited for them. */
  durable(id: number): void {
    if (this.waiting.length === 0) return;
    const due = this.waiting.filter((w) => w.id <= id);
    this.waiting = this.waiting.filter((w) => w.id > id);
    for (const w of due) w.run();
  }

  /** Everything is durable (the database closed, which syncs): runs all that waits. */
  all(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.run();
  }
}
