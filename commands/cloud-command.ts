/**
 * `cloud`: the operator's commands through AWS IoT. Their code and the AWS SDK (an optional
 * dependency a gateway's package leaves out) are imported here, so a missing SDK is a message.
 */
export async function run(args: string[]): Promise<number> {
  let command: typeof import("./cloud/cloud-command.js");
  try {
    command = await import("./cloud/cloud-command.js");
  } catch (error) {
    process.stderr.write(
      `cloud: the AWS SDK clients are not installed here (a gateway's package leaves them out): npm install @aws-sdk/client-iot-data-plane @aws-sdk/client-iot\n${(error as Error).message}\n`,
    );
    return 1;
  }
  if (args[0] === undefined || args[0] === "help") {
    process.stdout.write(command.CLOUD_USAGE + "\n");
    return args[0] === "help" ? 0 : 2;
  }
  return command.cloudCommand(
    args,
    (text) => process.stdout.write(text),
    (text) => process.stderr.write(text),
  );
}
