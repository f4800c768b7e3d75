// @ts-check
import { reeferEslint } from "./eslint.shared.js";

// deploy/aws is a project of its own (its own dependencies and lockfile): it lints itself.
// .cache/ (staged packages, compiled addons), fleet-data/ and test-artifacts/ are what runs and
// tests leave in the checkout: CI checks while the tests run and write them.
export default reeferEslint(import.meta.dirname, [
  "dist/",
  "node_modules/",
  "coverage/",
  "deploy/aws/",
  ".cache/",
  "fleet-data/",
  "test-artifacts/",
]);
