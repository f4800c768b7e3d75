import { accessSync, constants, existsSync, readdirSync, realpathSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { AgentConfig } from "../../config/schema.js";
import { isClockPlausible } from "../../core/clock.js";
import { OutboxLock } from "../../agent/outbox/outbox-lock.js";
import { fail, pass, skip, warn, type Verdict } from "./verdict.js";

/** The wall clock: plausible, synchronized (when trusted by timesyncd), and whether an RTC keeps it. */
export function checkClock(config: AgentConfig, now: number): Verdict[] {
  const verdicts: Verdict[] = [];
  verdicts.push(
    isClockPlausible(now)
      ? pass("clock", `reads ${new Date(now).toISOString()}`)
      : fail(
          "clock",
          `reads ${new Date(now).toISOString()}, before this build's floor: readings are stamped unsynced`,
          "let NTP set it (timedatectl set-ntp true) or set it by hand",
        ),
  );
  const synced = existsSync(config.clock.timesyncdFlag);
  if (config.clock.trust === "timesyncd" || existsSync("/run/systemd/timesync")) {
    verdicts.push(
      synced
        ? pass("clock sync", "systemd-timesyncd says the clock is synchronized")
        : (config.clock.trust === "timesyncd" ? fail : warn)(
            "clock sync",
            `not synchronized (${config.clock.timesyncdFlag} is missing)`,
            "check NTP reaches its servers: timedatectl timesync-status",
          ),
    );
  } else verdicts.push(skip("clock sync", "systemd-timesyncd is not in use here"));
  const rtc = existsSync("/sys/class/rtc") && readdirSync("/sys/class/rtc").length > 0;
  verdicts.push(
    rtc
      ? pass("real-time clock", "present: the time survives a power cut")
      : warn(
          "real-time clock",
          "none: after a power cut the clock starts wrong until NTP syncs",
          "readings before the sync are corrected if still buffered; an RTC module avoids it",
        ),
  );
  return verdicts;
}

/** Every serial port a container's driver names: present, readable and writable, stable name. */
export function checkSerialPorts(config: AgentConfig): Verdict[] {
  const ports = new Set(
    config.containers.flatMap((c) => (c.driver.type === "modbus-rtu" ? [c.driver.port] : [])),
  );
  if (ports.size === 0) return [skip("serial ports", "no modbus-rtu container")];
  return [...ports].flatMap((port) => {
    const check = `port ${port}`;
    if (!existsSync(port))
      return [
        fail(
          check,
          "not present",
          "plug the RS-485 adapter in; `reefer-edge ports` lists the ports there are",
        ),
      ];
    const verdicts: Verdict[] = [];
    try {
      accessSync(port, constants.R_OK | constants.W_OK);
      verdicts.push(pass(check, `present (${realpathSync(port)}), readable and writable`));
    } catch {
      verdicts.push(
        fail(
          check,
          "present, but this user may not open it",
          "add the agent's user to dialout: usermod -aG dialout reefer-edge",
        ),
      );
    }
    if (!port.startsWith("/dev/serial/by-id/"))
      verdicts.push(
        warn(
          check,
          "not a /dev/serial/by-id path: ttyUSB numbers follow plug order",
          "use the by-id name `reefer-edge ports` shows",
        ),
      );
    return verdicts;
  });
}

/** Room on the outbox's file system for its whole budget. */
export function checkDisk(config: AgentConfig): Verdict[] {
  let dir = dirname(config.buffer.path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const stats = statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;
  return [
    free >= config.buffer.maxBytes
      ? pass("disk space", `${mib(free)} free for a budget of ${mib(config.buffer.maxBytes)}`)
      : warn(
          "disk space",
          `${mib(free)} free, less than buffer.maxBytes (${mib(config.buffer.maxBytes)}): a long outage fills the disk before the budget`,
          "free space or lower buffer.maxBytes",
        ),
  ];
}

/** Who holds the outbox, its integrity, backlog and oldest reading. */
export function checkOutbox(
  config: AgentConfig,
  now: number,
): { verdicts: Verdict[]; held: boolean } {
  const path = config.buffer.path;
  if (!existsSync(path))
    return { verdicts: [skip("outbox", `${path} does not exist yet`)], held: false };
  const verdicts: Verdict[] = [];
  let held = false;
  const holder = OutboxLock.holder(path);
  if (holder === null) verdicts.push(pass("outbox lock", "no agent holds it"));
  else {
    held = true;
    verdicts.push(pass("outbox lock", `held by a running agent (${holder.holder})`));
  }
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 2000 });
    const integrity = String(db.pragma("quick_check", { simple: true }));
    verdicts.push(
      integrity === "ok"
        ? pass("outbox integrity", "quick_check ok")
        : fail(
            "outbox integrity",
            integrity,
            "stop the agent: at its next start it moves the damaged file aside and starts afresh",
          ),
    );
    const backlog =
      db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE lane IN (0, 1)").get()
        ?.n ?? 0;
    const oldest = db
      .prepare<[], { at: number }>("SELECT captured_at AS at FROM outbox ORDER BY id LIMIT 1")
      .get()?.at;
    const age = oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000);
    const detail = `${backlog} rows waiting${oldest === undefined ? "" : `, the oldest captured ${formatAge(age)} ago`}`;
    verdicts.push(
      age > 3600
        ? warn(
            "outbox backlog",
            detail,
            "it drains once the broker is reachable (see the broker checks)",
          )
        : pass("outbox backlog", detail),
    );
  } catch (error) {
    verdicts.push(
      fail("outbox", `${path}: ${(error as Error).message}`, "check the file and its permissions"),
    );
  } finally {
    db?.close();
  }
  return { verdicts, held };
}

function formatAge(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}
