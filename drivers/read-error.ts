/**
 * A read that produced nothing, in the terms the `device_unreachable` alert reports: which of
 * the container's devices could not be read, and how the last attempt failed. Drivers throw it
 * from `read`; the sampler turns any other rejection into class `error` (or `timeout`).
 */
export class DeviceReadError extends Error {
  constructor(
    /** timeout, crc, framing, exception, port_gone, circuit_open, or a driver's own word. */
    readonly errorClass: string,
    /** The devices that did not answer, as an operator finds them ("/dev/ttyUSB0 unit 3"). */
    readonly devices: readonly string[],
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "DeviceReadError";
  }
}

/** What a rejected read says about why, for the alert and the log. */
export function describeReadFailure(error: unknown): { errorClass: string; devices: string[] } {
  if (error instanceof DeviceReadError)
    return { errorClass: error.errorClass, devices: [...error.devices] };
  const errorClass = (error as { errorClass?: unknown } | null)?.errorClass;
  return { errorClass: typeof errorClass === "string" ? errorClass : "error", devices: [] };
}
