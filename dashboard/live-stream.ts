import { setStreamState } from "./dom.js";

/**
 * An EventSource with typed handlers. The browser reconnects a dropped stream by itself, and
 * the server starts every connection with a snapshot, so nothing needs replaying here.
 */
export function openStream(
  url: string,
  /** Each event's handler, with when it arrived (before its JSON was parsed), for timings. */
  handlers: Readonly<Record<string, (data: unknown, arrivedAt: number) => void>>,
): () => void {
  const source = new EventSource(url);
  setStreamState("connecting");
  source.onopen = () => setStreamState("live");
  source.onerror = () => setStreamState("reconnecting");
  for (const [event, handler] of Object.entries(handlers)) {
    source.addEventListener(event, (message) => {
      const arrivedAt = performance.now();
      handler(JSON.parse((message as MessageEvent<string>).data), arrivedAt);
    });
  }
  return () => source.close();
}
