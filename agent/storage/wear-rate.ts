import type { Clock } from "../../core/clock.js";
import type { DeviceWearRate } from "../../core/gateway-status.js";
import { readDeviceWear } from "./device-wear.js";

/**
 * The flash's wear under the outbox for /metrics and the health shadow: the device's own count
 * (readDeviceWear), read when asked, against the first reading of this process.
 */
export class WearRate {
  private readonly first: { bytes: number; at: number } | null;

  constructor(
    private readonly path: string,
    private readonly clock: Clock,
  ) {
    const wear = path === ":memory:" ? null : readDeviceWear(path);
    this.first = wear && { bytes: wear.bytesWritten, at: clock.monotonic() };
  }

  read(): DeviceWearRate | null {
    if (!this.first) return null;
    const wear = readDeviceWear(this.path);
    if (!wear) return null;
    const seconds = (this.clock.monotonic() - this.first.at) / 1000;
    const bytesPerSecond = seconds >= 1 ? (wear.bytesWritten - this.first.bytes) / seconds : null;
    return { ...wear, bytesPerSecond };
  }
}
