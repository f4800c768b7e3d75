import { defineConfig } from "vitest/config";

/** `npm run bench:act`: benchmarks print figures; they are never part of `npm test`. */
export default defineConfig({
  test: {
    include: ["bench/**/*.bench-run.ts"],
    testTimeout: 600_000,
    fileParallelism: false,
  },
});
