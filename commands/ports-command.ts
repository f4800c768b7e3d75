import { formatPortListing, listSerialPorts } from "../drivers/modbus/ports.js";

/** `ports`: the serial ports, with the stable /dev/serial/by-id names a config should use. */
export async function run(): Promise<number> {
  process.stdout.write(formatPortListing(await listSerialPorts()) + "\n");
  return 0;
}
