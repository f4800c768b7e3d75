import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { freePort, waitForPort } from "./ports.js";
import { inCi } from "./tools.js";

/** Credentials and region the SDK clients use against the stand-in (moto accepts any). */
export const LOCAL_AWS = {
  region: "us-east-1",
  credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
} as const;

/** Whether moto's server is importable; in CI its absence fails (.ci/run installs it). */
export function requireMoto(): { skip: boolean } {
  const probe = spawnSync("python3", ["-c", "import moto.server"], { encoding: "utf8" });
  if (probe.status === 0) return { skip: false };
  const install = "pip install -r deploy/aws/requirements.txt (or: .ci/run)";
  if (inCi())
    throw new Error(
      `moto is required in CI but cannot be imported; .ci/run should have run: ${install}`,
    );
  console.warn(
    `SKIPPED: moto not importable (install it with: ${install}); AWS stand-in tests do not run`,
  );
  return { skip: true };
}

/**
 * moto in server mode on a loopback port of its own: real AWS protocols (Kinesis, DynamoDB,
 * SNS, SQS, Firehose, S3, the IoT data plane's shadows) answered by a third party's
 * implementation, so the SDK clients and our code run as they would against AWS. deploy/aws's
 * tests use it too.
 */
export class MotoServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<MotoServer> {
    const port = await freePort();
    const child = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    try {
      await waitForPort(port, 30_000);
    } catch (error) {
      child.kill("SIGKILL");
      throw new Error(`moto did not start: ${String(error)}\n${stderr}`);
    }
    return new MotoServer(child, `http://127.0.0.1:${port}`);
  }

  /** Options for any SDK v3 client: this server, the test region and credentials. */
  clientConfig() {
    return { ...LOCAL_AWS, endpoint: this.endpoint };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    await exited;
  }
}
