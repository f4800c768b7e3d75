import { EventEmitter } from "node:events";
import jsmodbus from "jsmodbus";
import { SerialPort } from "serialport";
import type { Measurement } from "../../core/record.js";
import { encodeMeasurement } from "../../drivers/modbus/codec.js";
import type { Profile } from "../../drivers/modbus/profile-schema.js";

// jsmodbus is CommonJS whose names Node's ESM loader cannot see: take them off the default.
const { ModbusRTURequest, ModbusRTUResponse, responses, server } = jsmodbus;
type ModbusRTURequest = InstanceType<typeof ModbusRTURequest>;

/** What the next replies of a unit do instead of a clean answer. */
export type Fault =
  | { readonly kind: "corrupt-crc" }
  | { readonly kind: "drop" }
  | { readonly kind: "exception"; readonly code: number }
  | { readonly kind: "slow"; readonly ms: number };

const REGISTERS = 1024;

/**
 * One slave on the rig's bus: a jsmodbus RTU server (a different Modbus implementation from the
 * driver's modbus-serial) with its own register tables, behind a fault injector.
 */
export class SlaveUnit {
  readonly holding = Buffer.alloc(REGISTERS * 2);
  readonly input = Buffer.alloc(REGISTERS * 2);
  readonly coils = Buffer.alloc(REGISTERS / 8);
  readonly discrete = Buffer.alloc(REGISTERS / 8);
  /** Requests this unit received (frames addressed to it), as hex. */
  readonly requests: string[] = [];
  /** Faults for the next replies, first first; `dead` makes it never answer. */
  readonly faults: Fault[] = [];
  dead = false;
  answered = 0;
  /** Replies a "slow" fault held back, once they have been written after all. */
  lateReplies = 0;

  constructor(readonly unitId: number) {}

  /** Serves `measurement` through `profile`, as a device with that register map would. */
  serve(profile: Profile, measurement: Measurement): void {
    const encoded = encodeMeasurement(profile, measurement);
    for (const [address, word] of encoded.holding) this.holding.writeUInt16BE(word, address * 2);
    for (const [address, word] of encoded.input) this.input.writeUInt16BE(word, address * 2);
    for (const [address, on] of encoded.coil) setBit(this.coils, address, on);
    for (const [address, on] of encoded.discrete) setBit(this.discrete, address, on);
  }

  setInputs(address: number, words: readonly number[]): void {
    words.forEach((word, i) => this.input.writeUInt16BE(word, (address + i) * 2));
  }
}

function setBit(buffer: Buffer, index: number, on: boolean): void {
  const byte = buffer[index >> 3] ?? 0;
  buffer[index >> 3] = on ? byte | (1 << (index & 7)) : byte & ~(1 << (index & 7));
}

/**
 * The device end of the rig's serial line: frames requests with jsmodbus, hands each to the
 * server of its unit id (no server, no answer: like a bus with no such slave), and writes the
 * server's reply through that unit's fault injector.
 */
export class ModbusSlaveBus {
  private port: SerialPort | null = null;
  private readonly units = new Map<number, { unit: SlaveUnit; socket: EventEmitter }>();
  private buffer = Buffer.alloc(0);
  /** Every frame that arrived, as hex, in order. */
  readonly frames: string[] = [];

  constructor(private readonly path: string) {}

  addUnit(unitId: number): SlaveUnit {
    const unit = new SlaveUnit(unitId);
    const socket = new EventEmitter();
    const send = (reply: Buffer, done?: () => void) => {
      this.reply(unit, reply);
      done?.();
      return true;
    };
    Object.assign(socket, { write: send });
    new server.RTU(socket as never, {
      holding: unit.holding,
      input: unit.input,
      coils: unit.coils,
      discrete: unit.discrete,
    });
    this.units.set(unitId, { unit, socket });
    return unit;
  }

  unit(unitId: number): SlaveUnit {
    const found = this.units.get(unitId);
    if (!found) throw new Error(`no unit ${unitId} on the rig`);
    return found.unit;
  }

  async attach(): Promise<void> {
    const port = new SerialPort({ path: this.path, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => {
      port.open((error) => (error ? reject(error) : resolve()));
    });
    port.on("data", (chunk: Buffer) => {
      this.receive(chunk);
    });
    port.on("error", () => undefined);
    this.port = port;
    this.buffer = Buffer.alloc(0);
  }

  async detach(): Promise<void> {
    const port = this.port;
    this.port = null;
    if (!port?.isOpen) return;
    await new Promise<void>((resolve) => {
      port.close(() => resolve());
    });
  }

  private pending: { unit: SlaveUnit; request: ModbusRTURequest } | null = null;

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const request = ModbusRTURequest.fromBuffer(this.buffer);
      if (!request) return;
      const frame = this.buffer.subarray(0, request.byteCount);
      this.buffer = this.buffer.subarray(request.byteCount);
      this.frames.push(frame.toString("hex"));
      const target = this.units.get(request.address);
      if (!target || request.corrupted) continue;
      target.unit.requests.push(frame.toString("hex"));
      this.pending = { unit: target.unit, request };
      target.socket.emit("data", Buffer.from(frame));
      this.pending = null;
    }
  }

  private reply(unit: SlaveUnit, reply: Buffer): void {
    if (unit.dead) return;
    const fault = unit.faults.shift();
    const port = this.port;
    if (!port) return;
    if (!fault) {
      unit.answered++;
      port.write(reply);
      return;
    }
    switch (fault.kind) {
      case "drop":
        return;
      case "corrupt-crc": {
        const bad = Buffer.from(reply);
        bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
        port.write(bad);
        return;
      }
      case "exception": {
        const request = this.pending?.request;
        if (!request) throw new Error("no request to answer with an exception");
        const body = new responses.ExceptionResponseBody(request.body.fc, fault.code as never);
        port.write(ModbusRTUResponse.fromRequest(request, body).createPayload());
        return;
      }
      case "slow":
        setTimeout(() => {
          this.port?.write(reply);
          unit.lateReplies++;
        }, fault.ms);
        return;
    }
  }
}
