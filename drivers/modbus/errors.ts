/**
 * What went wrong with one Modbus request, in the classes an operator acts on differently:
 * - timeout: no answer (slave dead, wrong unit id, wrong baud, A/B swapped);
 * - crc: an answer with a bad checksum (noise, missing termination, two masters);
 * - framing: an answer of the wrong length, unit or function (a late reply, a confused slave);
 * - exception: the slave answered with a Modbus exception code (wrong address in the profile);
 * - port_gone: the serial port or TCP connection is not there (adapter unplugged);
 * - circuit_open: not sent, the slave's circuit breaker is open (it failed repeatedly).
 */
export type ModbusErrorClass =
  "timeout" | "crc" | "framing" | "exception" | "port_gone" | "circuit_open";

export class ModbusRequestError extends Error {
  constructor(
    readonly errorClass: ModbusErrorClass,
    message: string,
    readonly exceptionCode?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ModbusRequestError";
  }

  /** A retry may succeed: the slave or the line may do better next time. */
  get retryable(): boolean {
    if (this.errorClass === "exception")
      return this.exceptionCode === 5 || this.exceptionCode === 6;
    return (
      this.errorClass === "timeout" || this.errorClass === "crc" || this.errorClass === "framing"
    );
  }

  /** Costs bus time and says the slave may be gone: counts towards its circuit breaker. */
  get countsAgainstSlave(): boolean {
    return (
      this.errorClass === "timeout" || this.errorClass === "crc" || this.errorClass === "framing"
    );
  }
}

/**
 * Sorts what modbus-serial reports into a class. It has no error types to test against, only
 * names, errno and messages (index.js, 8.0.x), so this reads those; the HIL rig's fault tests
 * pin each mapping.
 */
export function classify(error: unknown): ModbusRequestError {
  if (error instanceof ModbusRequestError) return error;
  const e = (error ?? {}) as {
    name?: unknown;
    message?: unknown;
    errno?: unknown;
    code?: unknown;
    modbusCode?: unknown;
  };
  const message = typeof e.message === "string" ? e.message : String(error);
  const options = { cause: error };
  if (typeof e.modbusCode === "number") {
    return new ModbusRequestError("exception", message, e.modbusCode, options);
  }
  if (e.name === "TransactionTimedOutError" || e.errno === "ETIMEDOUT") {
    return new ModbusRequestError("timeout", "no answer within the timeout", undefined, options);
  }
  if (message.includes("CRC error")) {
    return new ModbusRequestError("crc", "answer with a bad CRC", undefined, options);
  }
  if (message.startsWith("Data length error") || message.startsWith("Unexpected data error")) {
    return new ModbusRequestError("framing", message, undefined, options);
  }
  return new ModbusRequestError("port_gone", message, undefined, options);
}
