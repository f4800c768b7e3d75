// @ts-check
import { reeferEslint } from "../../eslint.shared.js";

export default reeferEslint(import.meta.dirname, ["dist/", "node_modules/", "cdk.out/"]);
