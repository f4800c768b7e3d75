import type { Reporter, TestModule } from "vitest/node";

/** How many of the slowest test files the summary names: where CI's time goes. */
const SLOWEST = 12;

/** How much of a failure's first error the closing list repeats: its cause, not its stack. */
const ERROR_CHARS = 600;

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
    const root = process.cwd() + "/";
    if (slowest.length > 1) {
      process.stdout.write("\nslowest test files (wall seconds; vitest runs two at a time):\n");
      for (const { file, ms } of slowest)
        process.stdout.write(`${(ms / 1000).toFixed(1).padStart(8)}  ${file.replace(root, "")}\n`);
    }
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const failures: string[] = [];
    for (const module of testModules) {
      const file = module.moduleId.replace(root, "");
      for (const error of module.errors()) failures.push(`${file}: ${firstLines(error.message)}`);
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === "passed") passed++;
        else if (result.state === "failed") {
          failed++;
          const error = result.errors[0];
          failures.push(
            `${file} > ${test.fullName}: ${firstLines(error?.message ?? "(no error)")}`,
          );
        } else skipped++;
      }
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    for (const failure of failures) process.stdout.write(`failed: ${failure}\n`);
  }
}

/** A failure's message on one line, cut to its first ERROR_CHARS characters. */
function firstLines(message: string): string {
  const flat = message.replace(/\s+/g, " ").trim();
  return flat.length > ERROR_CHARS ? flat.slice(0, ERROR_CHARS) + " …" : flat;
}
