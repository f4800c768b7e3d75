/**
 * A graceful stop's wait for the last acknowledgements: `done` ends it early (the last PUBACK
 * came), and it ends by itself after `ms` (a broker that never answers must not hold a stop).
 */
export function drainWait(ms: number): {
  readonly ended: Promise<void>;
  readonly done: () => void;
} {
  let done = () => {};
  const ended = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    done = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return { ended, done };
}
