import { createServer, type Server, type Socket } from "node:net";
import jsmodbus from "jsmodbus";
import { SlaveUnit } from "./modbus-slave.js";

/**
 * A Modbus TCP device made with jsmodbus on a loopback port, with the unit's faults applied to
 * its replies as they leave the socket; stop() drops every connection.
 */
export class TcpSlave {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  readonly unit = new SlaveUnit(1);
  port = 0;

  async start(port = 0): Promise<void> {
    const server = createServer();
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      const write: (reply: Buffer) => boolean = socket.write.bind(socket);
      Object.assign(socket, {
        write: (reply: Buffer, done?: () => void) => {
          this.reply(reply, write);
          done?.();
          return true;
        },
      });
    });
    new jsmodbus.server.TCP(server, {
      holding: this.unit.holding,
      input: this.unit.input,
      coils: this.unit.coils,
      discrete: this.unit.discrete,
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const address = server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    this.server = server;
  }

  /** A reply is MBAP (transaction, protocol, length, unit: 7 bytes) + PDU (function, data). */
  private reply(reply: Buffer, write: (reply: Buffer) => boolean): void {
    const fault = this.unit.faults.shift();
    if (!fault) {
      write(reply);
      return;
    }
    switch (fault.kind) {
      case "drop":
        return;
      case "slow":
        setTimeout(() => {
          write(reply);
          this.unit.lateReplies++;
        }, fault.ms);
        return;
      case "exception": {
        // Same transaction id and unit; PDU: the function code with the high bit, the code.
        const exception = Buffer.from(reply.subarray(0, 9));
        exception.writeUInt16BE(3, 4);
        exception[7] = (reply[7] ?? 0) | 0x80;
        exception[8] = fault.code;
        write(exception);
        return;
      }
      case "corrupt-crc":
        throw new Error("Modbus TCP has no CRC");
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}
