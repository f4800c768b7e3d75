import { readdirSync, readlinkSync } from "node:fs";
import { join, resolve } from "node:path";

export interface SerialPortEntry {
  /** The kernel's name, e.g. /dev/ttyUSB0: it follows plug order. */
  readonly path: string;
  /** The stable name udev gives the adapter, e.g. /dev/serial/by-id/usb-FTDI_..-if00-port0. */
  readonly byId: string | null;
  readonly manufacturer?: string | undefined;
  readonly serialNumber?: string | undefined;
  readonly vendorId?: string | undefined;
  readonly productId?: string | undefined;
}

export interface PortListing {
  readonly ports: SerialPortEntry[];
  /** Why the listing is partial, when it is. */
  readonly note: string | null;
}

interface ListedPort {
  path: string;
  manufacturer?: string | undefined;
  serialNumber?: string | undefined;
  vendorId?: string | undefined;
  productId?: string | undefined;
}

export interface ListOptions {
  /** Root of the device tree; tests point it at a folder of their own. */
  readonly root?: string;
  /** serialport's list, which runs `udevadm` on Linux; injected for tests. */
  readonly list?: () => Promise<ListedPort[]>;
}

/** Kernel names of USB and on-board UARTs an RS-485 adapter or HAT shows up as. */
const SERIAL_NAME = /^tty(USB|ACM|AMA|SC|XRUSB|mxc|S[0-3]$)/;

/**
 * Lists serial ports with their /dev/serial/by-id names. serialport's list needs `udevadm`,
 * absent from minimal images and containers: then the ports come from /dev itself, without
 * manufacturer names, and the note says why.
 */
export async function listSerialPorts(options: ListOptions = {}): Promise<PortListing> {
  const root = options.root ?? "/";
  const byId = byIdLinks(root);
  const list = options.list ?? defaultList;
  try {
    const listed = await list();
    return {
      ports: listed.map((p) => ({ ...p, byId: byId.get(resolve(p.path)) ?? null })),
      note: null,
    };
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    const dev = join(root, "dev");
    let names: string[] = [];
    try {
      names = readdirSync(dev).filter((n) => SERIAL_NAME.test(n));
    } catch {
      // no /dev to read
    }
    const paths = new Set([...names.map((n) => join(dev, n)), ...byId.keys()]);
    return {
      ports: [...paths].sort().map((path) => ({ path, byId: byId.get(path) ?? null })),
      note: missing
        ? "udevadm is not installed (Debian package udev), so manufacturer names are unknown; ports listed from /dev"
        : `serialport could not list ports (${(error as Error).message}); ports listed from /dev`,
    };
  }
}

/** Kernel path -> by-id path, from the symlinks udev made. */
function byIdLinks(root: string): Map<string, string> {
  const links = new Map<string, string>();
  const dir = join(root, "dev", "serial", "by-id");
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return links;
  }
  for (const name of names) {
    try {
      const target = resolve(dir, readlinkSync(join(dir, name)));
      links.set(target, join(dir, name));
    } catch {
      // not a link
    }
  }
  return links;
}

async function defaultList(): Promise<ListedPort[]> {
  const { SerialPort } = await import("serialport");
  return SerialPort.list();
}

/** The listing as a table for the terminal. */
export function formatPortListing(listing: PortListing): string {
  const lines: string[] = [];
  if (listing.note) lines.push(`note: ${listing.note}`);
  if (listing.ports.length === 0) {
    lines.push(
      "no serial ports found: is the adapter plugged in? (`dmesg | tail` shows what the kernel saw)",
    );
    return lines.join("\n");
  }
  lines.push("PORT\tBY-ID (put this in the config: it survives replugs)\tDEVICE");
  for (const port of listing.ports) {
    const device = [
      port.vendorId && port.productId ? `${port.vendorId}:${port.productId}` : "",
      port.manufacturer ?? "",
      port.serialNumber ? `serial ${port.serialNumber}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    lines.push(`${port.path}\t${port.byId ?? "-"}\t${device || "-"}`);
  }
  return lines.join("\n");
}
