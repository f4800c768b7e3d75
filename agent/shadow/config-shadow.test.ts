import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { validateConfig } from "../../config/load.js";
import type { AgentConfig } from "../../config/schema.js";
import { captureLogs } from "../../test/support/logs.js";
import { Metrics } from "../../core/metrics.js";
import type { SessionLink } from "../publisher/broker-client.js";
import { ConfigShadow } from "./config-shadow.js";

/** The session link the shadow gets (SessionLink): what it subscribed to and published. */
class Session implements SessionLink {
  readonly published: { topic: string; body: unknown }[] = [];
  private listener: ((topic: string, payload: Buffer) => void) | null = null;
  subscribe(_topics: readonly string[], _qos: 0 | 1, done: (error: Error | null) => void): void {
    done(null);
  }
  publish(topic: string, payload: string): void {
    this.published.push({ topic, body: JSON.parse(payload) });
  }
  onMessage(listener: (topic: string, payload: Buffer) => void): () => void {
    this.listener = listener;
    return () => (this.listener = null);
  }
  deliver(operation: string, body: unknown): void {
    this.listener?.(
      `$aws/things/gw/shadow/name/config/${operation}`,
      Buffer.from(JSON.stringify(body)),
    );
  }
}

const file = validateConfig(
  {
    version: 1,
    gateway: { id: "gw" },
    mqtt: { url: "mqtt://127.0.0.1:1883" },
    containers: [{ id: "C1", product: "P01", driver: { type: "simulated" } }],
  },
  "file",
);

describe("ConfigShadow", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function shadow() {
    const applied: AgentConfig[] = [];
    const metrics = new Metrics();
    const config = new ConfigShadow({
      thing: "gw",
      file,
      stateFile: null,
      apply: (c) => applied.push(c),
      minApplyGapMs: 1000,
      clock: { now: () => Date.now(), monotonic: () => Date.now() },
      logger: captureLogs("fatal").logger,
      metrics,
    });
    const session = new Session();
    config.up(session);
    return { config, session, applied, metrics };
  }
  const doc = (version: number, threshold: number) => ({
    version,
    state: { desired: { rules: { temperature: { threshold } } } },
  });

  it("asks for the document on connect; applies a flood at most once a second, the latest winning", () => {
    const { session, applied } = shadow();
    expect(session.published[0]?.topic).toBe("$aws/things/gw/shadow/name/config/get");
    for (let v = 5; v < 15; v++) session.deliver("get/accepted", doc(v, v));
    vi.advanceTimersByTime(0);
    expect(applied.map((c) => c.rules.temperature.threshold)).toEqual([14]);
    for (let v = 15; v <= 20; v++) session.deliver("get/accepted", doc(v, v));
    vi.advanceTimersByTime(999);
    expect(applied).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(applied.map((c) => c.rules.temperature.threshold)).toEqual([14, 20]);
    const report = session.published.at(-1);
    expect(report?.topic).toBe("$aws/things/gw/shadow/name/config/update");
    expect(report?.body).toEqual({
      state: {
        reported: { rules: { temperature: { threshold: 20 } }, configVersion: 20, refused: null },
      },
    });
  });

  it("ignores a delta older than the version applied, and asks for the document on a newer one", () => {
    const { session, applied, metrics } = shadow();
    session.deliver("get/accepted", doc(7, 11));
    vi.advanceTimersByTime(0);
    const asked = session.published.length;
    session.deliver("update/delta", {
      version: 6,
      state: { rules: { temperature: { threshold: 1 } } },
    });
    expect(metrics.get("shadow_stale_deltas")).toBe(1);
    expect(session.published).toHaveLength(asked);
    session.deliver("update/delta", {
      version: 8,
      state: { rules: { temperature: { threshold: 2 } } },
    });
    expect(session.published.at(-1)?.topic).toBe("$aws/things/gw/shadow/name/config/get");
    expect(applied).toHaveLength(1);
  });

  it("refuses a desired state once, not again for the same state at a later version", () => {
    const { session, applied } = shadow();
    session.deliver("get/accepted", { version: 3, state: { desired: { mqtt: { url: "x" } } } });
    vi.advanceTimersByTime(0);
    session.deliver("get/accepted", { version: 4, state: { desired: { mqtt: { url: "x" } } } });
    vi.advanceTimersByTime(1000);
    const refusals = session.published.filter(
      (p) => (p.body as { state?: { reported?: { refused?: unknown } } }).state?.reported?.refused,
    );
    expect(refusals).toHaveLength(1);
    expect(applied).toHaveLength(0);
  });
});
