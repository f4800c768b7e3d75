import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

/** What an operator typing at a gateway sees when a command line is wrong, or asks for help. */
describe("the CLI's usage errors", () => {
  it("prints a command's own usage for --help, and exits 0", async () => {
    const { code, stdout } = await runCli(["fleet", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("reefer-edge fleet --file FLEET.yaml");
    expect(stdout).not.toContain("reefer-edge run --config");
  });

  it("names an option the command does not take, with its usage, exit 2 and no stack", async () => {
    const { code, stderr } = await runCli(["fleet", "--gateways", "10"]);
    expect(code).toBe(2);
    expect(stderr).toContain("reefer-edge fleet: Unknown option '--gateways'");
    expect(stderr).toContain("reefer-edge fleet --file FLEET.yaml");
    expect(stderr).not.toMatch(/TypeError|\n\s+at /);
  });

  it("names an option given without its value", async () => {
    const { code, stderr } = await runCli(["fleet", "--file"]);
    expect(code).toBe(2);
    expect(stderr).toContain("reefer-edge fleet: Option '-f, --file <value>' argument missing");
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("lists the commands for one it does not know", async () => {
    const { code, stderr } = await runCli(["frobnicate"]);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command "frobnicate"');
    expect(stderr).toContain("reefer-edge run --config FILE");
  });
});
