import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The built CLI, whether this file runs from source (tests) or from dist/ (benchmarks). */
export const CLI = fileURLToPath(
  new URL(
    import.meta.url.includes("/dist/") ? "../../commands/cli.js" : "../../dist/commands/cli.js",
    import.meta.url,
  ),
);

export interface RunningCli {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  /** Resolves once stdout matches. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Runs the built CLI as a child process, as a user or systemd would. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const running: RunningCli = {
    child,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) =>
      child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
    ),
    waitForOutput: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `no ${pattern} in output after ${timeoutMs} ms:\n${running.stdout}\n${running.stderr}`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          if (pattern.test(running.stdout)) {
            clearTimeout(timer);
            resolve();
          } else child.stdout.once("data", check);
        };
        check();
      }),
  };
  child.stdout.on("data", (chunk: Buffer) => (running.stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (running.stderr += chunk.toString()));
  return running;
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const running = startCli(args, env);
  const code = await running.exited;
  return { code, stdout: running.stdout, stderr: running.stderr };
}
