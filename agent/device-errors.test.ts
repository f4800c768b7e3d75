import { describe, expect, it } from "vitest";
import { Metrics } from "../core/metrics.js";
import { deviceErrors } from "./device-errors.js";

describe("deviceErrors", () => {
  it("sums Modbus requests and errors per bus and unit (every error class), and failed reads per container", () => {
    const metrics = new Metrics();
    const unit3 = Object.freeze({ bus: "/dev/ttyUSB0", unit: "3" });
    metrics.increment("modbus_requests", 40, unit3);
    metrics.increment("modbus_errors", 2, { ...unit3, class: "timeout" });
    metrics.increment("modbus_errors", 1, { ...unit3, class: "crc" });
    metrics.increment("modbus_requests", 10, { bus: "10.0.0.7:502", unit: "1" });
    metrics.increment("read_errors", 3, { container: "C2" });
    metrics.increment("readings_captured", 99);
    expect(deviceErrors(metrics)).toEqual({
      devices: [
        { device: "/dev/ttyUSB0 unit 3", requests: 40, errors: 3 },
        { device: "10.0.0.7:502 unit 1", requests: 10, errors: 0 },
      ],
      readErrors: { C2: 3 },
    });
  });
});
