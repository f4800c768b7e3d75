import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import type { GatewaySnapshotWire } from "../../dashboard/wire.js";
import { validateConfig } from "../../config/load.js";
import { captureLogs } from "../support/logs.js";
import { freePort } from "../support/ports.js";
import { makeTempDir } from "../support/tmp.js";

const temp = makeTempDir("reefer-edge-dashboard-http-");
const dir = temp.dir;
afterAll(() => temp.cleanup());
const running: Agent[] = [];
afterEach(async () => {
  for (const agent of running.splice(0)) await agent.stop(0);
});

/** An agent buffering offline (nothing listens at its broker URL), its listener on a free port. */
async function listening(http: Record<string, unknown>): Promise<{ agent: Agent; port: number }> {
  const config = validateConfig(
    {
      version: 1,
      gateway: { id: "gw-dash" },
      mqtt: { url: `mqtt://127.0.0.1:${await freePort()}` },
      buffer: { path: join(mkdtempSync(join(dir, "agent-")), "outbox.db") },
      sampling: { intervalMs: 100 },
      containers: [
        { id: "D1", product: "P01", driver: { type: "simulated", seed: 1 } },
        { id: "D2", product: "P05", driver: { type: "simulated", seed: 2 } },
      ],
      http: { listen: "127.0.0.1:0", ...http },
    },
    "dashboard test",
  );
  const agent = new Agent(config, { logger: captureLogs("fatal").logger });
  running.push(agent);
  agent.start();
  const address = await agent.listen();
  if (!address) throw new Error("the listener did not start");
  return { agent, port: address.port };
}

function tokenFile(): { file: string; token: string } {
  const token = "d4shb0ard-t0ken-of-this-gateway";
  const file = join(mkdtempSync(join(dir, "token-")), "token");
  writeFileSync(file, `${token}\n`);
  chmodSync(file, 0o600);
  return { file, token };
}

/** Reads Server-Sent Events from a response until `enough` says stop; returns them parsed. */
async function readEvents(
  response: Response,
  enough: (events: { event: string; data: unknown }[]) => boolean,
): Promise<{ event: string; data: unknown }[]> {
  const events: { event: string; data: unknown }[] = [];
  const reader = response.body?.getReader();
  if (!reader) throw new Error("no body");
  const decoder = new TextDecoder();
  let buffer = "";
  while (!enough(events)) {
    const chunk = (await reader.read()) as { value?: Uint8Array; done: boolean };
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return events;
}

describe("the dashboard on the HTTP listener", () => {
  it("serves the page, /api/info and a gateway's live stream: a snapshot, then readings and status", async () => {
    const { port } = await listening({});
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await (await fetch(`http://127.0.0.1:${port}/api/info`)).json()).toMatchObject({
      mode: "gateway",
      gateway: "gw-dash",
    });
    expect((await fetch(`http://127.0.0.1:${port}/api/gateways/other/events`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/assets/../../package.json`)).status).toBe(404);

    const stream = await fetch(`http://127.0.0.1:${port}/api/gateways/gw-dash/events`);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const events = await readEvents(
      stream,
      (seen) => seen.some((e) => e.event === "readings") && seen.some((e) => e.event === "status"),
    );
    const first = events[0];
    expect(first?.event).toBe("snapshot");
    const snapshot = first?.data as GatewaySnapshotWire;
    expect(snapshot.gateway).toBe("gw-dash");
    expect(snapshot.containers.map((c) => [c.id, c.product, c.setpoint])).toEqual([
      ["D1", "P01", 4],
      ["D2", "P05", 5],
    ]);
    expect(typeof snapshot.status.connection).toBe("string");
    expect(["synced", "unsynced", "unknown"]).toContain(snapshot.status.clock);
    const status = events.find((e) => e.event === "status")?.data as GatewaySnapshotWire["status"];
    // Offline: the outbox holds what was captured, and no drain time is promised.
    expect(status.connection).not.toBe("connected");
    expect(status.outbox.etaSeconds).toBeNull();
    expect(status.broker).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
  });

  it("with a token: 401 without it; ?token= sets a session cookie and leaves the address bar; the cookie opens the stream", async () => {
    const { file, token } = tokenFile();
    const { port } = await listening({ tokenFile: file });
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect(
      (await fetch(`${base}/?token=wrong-token-wrong-token`, { redirect: "manual" })).status,
    ).toBe(401);
    expect((await fetch(`${base}/api/gateways/gw-dash/events`)).status).toBe(401);

    const opened = await fetch(`${base}/?token=${token}&view=1`, { redirect: "manual" });
    expect(opened.status).toBe(303);
    expect(opened.headers.get("location")).toBe("/?view=1");
    const cookie = opened.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(token);
    const session = cookie.split(";")[0] ?? "";

    expect((await fetch(`${base}/`, { headers: { Cookie: session } })).status).toBe(200);
    expect(
      (await fetch(`${base}/`, { headers: { Cookie: "reefer_edge_session=forged" } })).status,
    ).toBe(401);
    const stream = await fetch(`${base}/api/gateways/gw-dash/events`, {
      headers: { Cookie: session },
    });
    expect(stream.status).toBe(200);
    const events = await readEvents(stream, (seen) => seen.length > 0);
    expect(events[0]?.event).toBe("snapshot");
    // The bearer header still works for scripts.
    expect(
      (await fetch(`${base}/api/info`, { headers: { Authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
  });

  it("http.dashboard: false serves /metrics and /healthz only", async () => {
    const { port } = await listening({ dashboard: false });
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/api/info`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});
