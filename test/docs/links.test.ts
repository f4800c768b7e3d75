import GithubSlugger from "github-slugger";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Every relative link in the repository's Markdown points at a file that exists, and every
 * `#anchor` at a heading of that file (GitHub's slugs): the README's sections moved into
 * docs/, and a link left behind must fail here, not in a reader's browser.
 */
const files = execFileSync("git", ["ls-files", "*.md"], { encoding: "utf8" })
  .split("\n")
  .filter((f) => f !== "" && !f.includes("node_modules/") && existsSync(f));

function anchorsOf(file: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (!fenced && heading?.[1] !== undefined) anchors.add(slugger.slug(heading[1].trim()));
  }
  return anchors;
}

/** Links outside code: `[text](target)`, skipping URLs with a scheme. */
function linksOf(file: string): string[] {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1] ?? "")
    .filter((target) => !/^[a-z]+:/i.test(target));
}

describe("the documentation's links", () => {
  it("finds the Markdown files", () => {
    expect(files).toContain("README.md");
    expect(files).toContain("docs/operate.md");
  });

  it.each(files)("%s: every relative link and anchor resolves", (file) => {
    const broken: string[] = [];
    for (const link of linksOf(file)) {
      const [path = "", anchor] = link.split("#");
      const target = path === "" ? file : normalize(join(dirname(file), path));
      if (!existsSync(target)) {
        broken.push(`${link}: no ${target}`);
        continue;
      }
      if (anchor === undefined || statSync(target).isDirectory()) continue;
      if (!target.endsWith(".md")) continue;
      if (!anchorsOf(target).has(anchor))
        broken.push(`${link}: no heading #${anchor} in ${target}`);
    }
    expect(broken).toEqual([]);
  });
});
