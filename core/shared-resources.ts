/** Something drivers share that must be closed when the last of them lets go. */
export interface Closable {
  close(): Promise<void>;
}

export interface Lease<T> {
  readonly value: T;
  /** Lets go; the last lease closes the resource. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Resources that several drivers of one agent share, by key: one open RS-485 port for every
 * container wired to it. Per agent, not per module, so a fleet simulator's agents share nothing.
 */
export class SharedResources {
  private readonly entries = new Map<string, { value: Closable; users: number }>();

  acquire<T extends Closable>(key: string, create: () => T): Lease<T> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { value: create(), users: 0 };
      this.entries.set(key, entry);
    }
    entry.users++;
    const held = entry;
    let released = false;
    return {
      value: held.value as T,
      release: async () => {
        if (released) return;
        released = true;
        held.users--;
        if (held.users === 0 && this.entries.get(key) === held) {
          this.entries.delete(key);
          await held.value.close();
        }
      },
    };
  }
}
