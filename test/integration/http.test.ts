import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import { HttpListenerError } from "../../agent/http/listener.js";
import { ConfigError, validateConfig } from "../../config/load.js";
import { runCli } from "../support/cli.js";
import { captureLogs } from "../support/logs.js";
import { freePort } from "../support/ports.js";
import { makeTempDir } from "../support/tmp.js";
import { waitFor } from "../support/wait-for.js";

const temp = makeTempDir("reefer-edge-http-");
const dir = temp.dir;
afterAll(() => temp.cleanup());
const running: Agent[] = [];
afterEach(async () => {
  for (const agent of running.splice(0)) await agent.stop(0);
});

/** An agent buffering offline (nothing listens at its broker URL), with the listener on. */
async function agentWith(http: Record<string, unknown>): Promise<Agent> {
  const config = validateConfig(
    {
      version: 1,
      gateway: { id: "gw-http" },
      mqtt: { url: `mqtt://127.0.0.1:${await freePort()}` },
      buffer: { path: join(mkdtempSync(join(dir, "agent-")), "outbox.db") },
      sampling: { intervalMs: 100 },
      containers: [{ id: "H1", product: "P01", driver: { type: "simulated", seed: 1 } }],
      http,
    },
    "http test",
  );
  const agent = new Agent(config, { logger: captureLogs("fatal").logger });
  running.push(agent);
  agent.start();
  return agent;
}

async function get(port: number, path: string, token?: string, method = "GET") {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.text() };
}

function tokenFile(mode: number): { file: string; token: string } {
  const token = "k3y-0f-th1s-gateway-f0r-the-test";
  const file = join(mkdtempSync(join(dir, "token-")), "token");
  writeFileSync(file, `${token}\n`);
  chmodSync(file, mode);
  return { file, token };
}

describe("the HTTP listener", () => {
  it("serves /metrics and /healthz on loopback while the agent buffers offline", async () => {
    const port = await freePort();
    const agent = await agentWith({ listen: `127.0.0.1:${port}` });
    expect(await agent.listen()).toMatchObject({ port });
    await waitFor("5 readings captured", () => agent.metrics.get("readings_captured") >= 5, 10_000);

    const health = await get(port, "/healthz");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: "ok", mode: "buffering" });
    const metrics = await get(port, "/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^reefer_edge_readings_captured_total [1-9]\d*$/m);
    expect(metrics.body).toMatch(/^reefer_edge_outbox_rows\{lane="telemetry"\} [1-9]\d*$/m);
    expect(metrics.body).toMatch(/^reefer_edge_broker_connected 0$/m);
    // Every capture's WAL sync timed on the real disk: a slowing card shows here first.
    expect(metrics.body).toMatch(/^# TYPE reefer_edge_wal_sync_seconds histogram$/m);
    expect(metrics.body).toMatch(/^reefer_edge_wal_sync_seconds_count [1-9]\d*$/m);
    expect((await get(port, "/nothing")).status).toBe(404);
    expect((await get(port, "/metrics", undefined, "POST")).status).toBe(405);
  });

  it("with a token, refuses a request without it or with another, and serves the right one", async () => {
    const port = await freePort();
    const { file, token } = tokenFile(0o600);
    const agent = await agentWith({ listen: `127.0.0.1:${port}`, tokenFile: file });
    await agent.listen();
    expect((await get(port, "/healthz")).status).toBe(401);
    expect((await get(port, "/healthz", "not-the-token-at-all")).status).toBe(401);
    expect((await get(port, "/healthz", token)).status).toBe(200);
  });

  it("needs a token to listen off loopback, and refuses a token file others can read", async () => {
    let refused: unknown;
    try {
      validateConfig(
        {
          version: 1,
          gateway: { id: "gw" },
          mqtt: { url: "mqtt://127.0.0.1:1883" },
          containers: [{ id: "H1", product: "P01", driver: { type: "simulated" } }],
          http: { listen: "0.0.0.0:9464" },
        },
        "remote",
      );
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    expect(String(refused)).toContain(
      "http.tokenFile: listening on 0.0.0.0, which is not loopback",
    );

    const { file } = tokenFile(0o644);
    const agent = await agentWith({ listen: `127.0.0.1:${await freePort()}`, tokenFile: file });
    await expect(agent.listen()).rejects.toThrow(HttpListenerError);
    await expect(agent.listen()).rejects.toThrow(/chmod 600/);
  });

  it("reefer-edge run exits 78 naming http.listen when its port is taken", async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const file = join(dir, "taken.yaml");
      writeFileSync(
        file,
        `version: 1
gateway: { id: gw-http }
mqtt: { url: "mqtt://127.0.0.1:${await freePort()}" }
buffer: { path: "${join(dir, "taken", "outbox.db")}" }
containers: [{ id: H1, product: P01, driver: { type: simulated } }]
http: { listen: "127.0.0.1:${port}" }
`,
      );
      const { code, stderr } = await runCli(["run", "--config", file]);
      expect(code).toBe(78);
      expect(stderr).toContain(`http.listen: 127.0.0.1:${port} is in use by another process`);
    } finally {
      blocker.close();
    }
  });
});
