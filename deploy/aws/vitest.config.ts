import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The Flink job's jar, which synthesizing the app needs, built once if missing.
    globalSetup: ["test/support/global-setup.ts"],
    reporters: ["default", "../../test/support/summary-reporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Synthesis and moto take a core each; the 2-core CI machine runs one file at a time.
    fileParallelism: false,
  },
});
