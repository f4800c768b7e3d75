import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split("\n"))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, logger: createLogger({ level: "info", pretty: "never" }, stream) };
}

describe("logger", () => {
  it("writes JSON lines with level and message", () => {
    const { lines, logger } = capture();
    logger.child({ component: "publisher" }).info({ backlog: 3 }, "connected");
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: "connected",
      component: "publisher",
      backlog: 3,
    });
  });

  it("blanks out key material and passwords wherever a caller put them", () => {
    const { lines, logger } = capture();
    const secret = "-----BEGIN PRIVATE KEY-----abc";
    logger.info(
      {
        key: secret,
        mqtt: { key: secret, password: "hunter2" },
        config: { mqtt: { key: secret } },
      },
      "oops",
    );
    const text = JSON.stringify(lines);
    expect(text).not.toContain("BEGIN PRIVATE KEY");
    expect(text).not.toContain("hunter2");
    expect(lines[0]).toMatchObject({
      key: "[redacted]",
      mqtt: { key: "[redacted]", password: "[redacted]" },
    });
  });
});
