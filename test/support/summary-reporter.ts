import type { Reporter, TestModule } from "vitest/node";

/** How many of the slowest test files the summary names: where CI's time goes. */
const SLOWEST = 12;

/**
 * Prints the slowest test files (wall time of each, as vitest measured it) and one plain closing
 * line, "tests: N passed, N failed, N skipped", after vitest's own summary, for CI systems that
 * read a run's last lines rather than its exit code.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    const slowest = testModules
      .map((m) => ({ file: m.moduleId, ms: m.diagnostic().duration }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, SLOWEST);
    if (slowest.length > 1) {
      const root = process.cwd() + "/";
      process.stdout.write("\nslowest test files (wall seconds; vitest runs two at a time):\n");
      for (const { file, ms } of slowest)
        process.stdout.write(`${(ms / 1000).toFixed(1).padStart(8)}  ${file.replace(root, "")}\n`);
    }
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
