import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "core/**/*.test.ts",
      "agent/**/*.test.ts",
      "commands/**/*.test.ts",
      "fleet/**/*.test.ts",
      "drivers/**/*.test.ts",
      "config/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    // Integration tests start real brokers and child processes; the 2-core CI machine
    // is shared, so give them room and never run two broker suites fighting for CPU.
    globalSetup: ["test/support/global-setup.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
