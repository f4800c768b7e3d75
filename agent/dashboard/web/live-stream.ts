import { setStreamState } from "./dom.js";

/**
 * An EventSource with typed handlers. The browser reconnects a dropped stream by itself, and
 * the server starts every connection with a snapshot, so nothing needs replaying here.
 */
export function openStream(
  url: string,
  handlers: Readonly<Record<string, (data: unknown) => void>>,
): () => void {
  const source = new EventSource(url);
  setStreamState("connecting");
  source.onopen = () => setStreamState("live");
  source.onerror = () => setStreamState("reconnecting");
  for (const [event, handler] of Object.entries(handlers)) {
    source.addEventListener(event, (message) => {
      handler(JSON.parse((message as MessageEvent<string>).data));
    });
  }
  return () => source.close();
}
