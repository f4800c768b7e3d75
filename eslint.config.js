// @ts-check
import { reeferEslint } from "./eslint.shared.js";

// deploy/aws is a project of its own (its own dependencies and lockfile): it lints itself.
export default reeferEslint(import.meta.dirname, [
  "dist/",
  "node_modules/",
  "coverage/",
  "deploy/aws/",
]);
