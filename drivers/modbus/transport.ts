import { createRequire } from "node:module";
import type { ModbusRTU as ModbusClient } from "modbus-serial/ModbusRTU.js";
import type { ReadRequest } from "./request-plan.js";

/** One open line to Modbus slaves: a serial port (RTU) or a TCP connection. */
export interface ModbusTransport {
  /** Opens the line; rejects when the port or host is not there. */
  open(): Promise<void>;
  /** Sends one read to `unit` and resolves with the registers (uint16) or bits. */
  read(unit: number, request: ReadRequest, timeoutMs: number): Promise<number[] | boolean[]>;
  /** Cleans up the line after a failed request (see RtuTransport). */
  recover(): Promise<void>;
  /**
   * How long after a failed request the same unit must not be asked again, so that its late
   * reply cannot be taken for the next answer (see RtuTransport).
   */
  lateReplyWindowMs(timeoutMs: number): number;
  close(): Promise<void>;
  readonly isOpen: boolean;
  /** Called once when the line goes away on its own (adapter unplugged, connection reset). */
  onLost(listener: (reason: string) => void): void;
}

export interface SerialLine {
  readonly path: string;
  readonly baudRate: number;
  readonly parity: "none" | "even" | "odd";
  readonly dataBits: 7 | 8;
  readonly stopBits: 1 | 2;
}

/** modbus-serial is loaded on first use, so agents without Modbus never pay its memory. */
const require = createRequire(import.meta.url);

interface BufferedPort {
  _buffer: Buffer;
  _client: { flush(callback: (error?: Error | null) => void): void };
}
type BufferedPortClass = new (path: string, options: object) => BufferedPort;
type ModbusClientClass = new (port?: unknown) => ModbusClient;

function modbusSerial(): { ModbusRTU: ModbusClientClass; RTUBufferedPort: BufferedPortClass } {
  return {
    ModbusRTU: require("modbus-serial") as ModbusClientClass,
    RTUBufferedPort: require("modbus-serial/ports/rtubufferedport.js") as BufferedPortClass,
  };
}

/** Base of both transports: the modbus-serial client, its lifecycle and its error events. */
abstract class ClientTransport implements ModbusTransport {
  protected client: ModbusClient | null = null;
  private lostListener: ((reason: string) => void) | null = null;

  abstract open(): Promise<void>;
  abstract recover(): Promise<void>;
  abstract lateReplyWindowMs(timeoutMs: number): number;

  get isOpen(): boolean {
    return this.client?.isOpen ?? false;
  }

  onLost(listener: (reason: string) => void): void {
    this.lostListener = listener;
  }

  /** Wires a freshly opened client: an unplug ends in 'close'; 'error' must have a listener. */
  protected adopt(client: ModbusClient): void {
    this.client = client;
    let lastError = "closed";
    client.on("error", (error: unknown) => {
      // modbus-serial's SerialPortError is a plain object with a message, not an Error.
      const message = (error as { message?: unknown } | null)?.message;
      lastError = typeof message === "string" ? message : String(error);
    });
    client.on("close", () => {
      if (this.client !== client) return;
      this.client = null;
      this.lostListener?.(lastError);
    });
  }

  async read(unit: number, request: ReadRequest, timeoutMs: number): Promise<number[] | boolean[]> {
    const client = this.client;
    if (!client?.isOpen) throw new Error("Port Not Open");
    client.setID(unit);
    client.setTimeout(timeoutMs);
    switch (request.code) {
      case 1:
        return (await client.readCoils(request.start, request.count)).data.slice(0, request.count);
      case 2:
        return (await client.readDiscreteInputs(request.start, request.count)).data.slice(
          0,
          request.count,
        );
      case 3:
        return (await client.readHoldingRegisters(request.start, request.count)).data;
      case 4:
        return (await client.readInputRegisters(request.start, request.count)).data;
    }
  }

  close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        client.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/** Modbus RTU on a serial port (RS-485 adapter) through serialport. */
export class RtuTransport extends ClientTransport {
  private port: BufferedPort | null = null;

  constructor(private readonly line: SerialLine) {
    super();
  }

  async open(): Promise<void> {
    const { ModbusRTU, RTUBufferedPort } = modbusSerial();
    const port = new RTUBufferedPort(this.line.path, {
      baudRate: this.line.baudRate,
      parity: this.line.parity,
      dataBits: this.line.dataBits,
      stopBits: this.line.stopBits,
    });
    const client = new ModbusRTU(port);
    await new Promise<void>((resolve, reject) => {
      client.open((error: Error | null) => {
        if (error) reject(error);
        else resolve();
      });
    });
    this.port = port;
    this.adopt(client);
  }

  /**
   * RTU frames carry no transaction id: a reply that arrives after its request timed out would
   * be taken as the answer to the next request to the same unit, possibly another block of
   * registers, decoded into the wrong fields (the HIL rig shows it). modbus-serial matches
   * replies by unit id, so other units are safe; the bus keeps the unit quiet for one more
   * response timeout (its late reply lands in that window), and every request here starts with
   * an empty receive buffer, which modbus-serial never clears on its own (8.0.x).
   */
  override read(
    unit: number,
    request: ReadRequest,
    timeoutMs: number,
  ): Promise<number[] | boolean[]> {
    if (this.port) this.port._buffer = Buffer.alloc(0);
    return super.read(unit, request, timeoutMs);
  }

  /** After a failure: drop what the OS has buffered too (a garbled frame's tail). */
  async recover(): Promise<void> {
    const port = this.port;
    if (!port) return;
    port._buffer = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      port._client.flush(() => resolve());
    });
  }

  lateReplyWindowMs(timeoutMs: number): number {
    return timeoutMs;
  }

  override close(): Promise<void> {
    this.port = null;
    return super.close();
  }
}

export interface TcpEndpoint {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
}

/** Modbus TCP (a controller's Ethernet port, or an RS-485-to-TCP gateway). */
export class TcpTransport extends ClientTransport {
  constructor(private readonly endpoint: TcpEndpoint) {
    super();
  }

  async open(): Promise<void> {
    const { ModbusRTU } = modbusSerial();
    const client = new ModbusRTU();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connectTCP(this.endpoint.host, { port: this.endpoint.port }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`no TCP connection within ${this.endpoint.connectTimeoutMs} ms`));
          }, this.endpoint.connectTimeoutMs);
        }),
      ]);
    } catch (error) {
      client.destroy(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.adopt(client);
  }

  recover(): Promise<void> {
    return Promise.resolve();
  }

  /** Modbus TCP answers carry the transaction id: a late one is dropped by id. */
  lateReplyWindowMs(): number {
    return 0;
  }
}
