// @ts-check
import { reeferEslint } from "./eslint.shared.js";

// deploy/aws is a project of its own (its own dependencies and lockfile): it lints itself.
// .cache/ (staged packages, compiled addons), fleet-data/ and test-artifacts/ are what runs and
// tests leave in the checkout: CI checks while the tests run and write them.
const base = reeferEslint(import.meta.dirname, [
  "dist/",
  "node_modules/",
  "coverage/",
  "deploy/aws/",
  ".cache/",
  "fleet-data/",
  "test-artifacts/",
]);

// The outbox's rows change only through OutboxStore's methods, which keep its tally and its
// cache of live rows (LiveRows) right; a statement run from elsewhere would leave them stale.
const ROW_CHANGES =
  "^(insert|deleteRow|deleteReturning|promoteHeld|dropHeld|rewrite|promoteAllHeld|forgetEpochs)$";
const ROW_CHANGE_MESSAGE =
  "change outbox rows through an OutboxStore method (agent/outbox/store.ts)";

export default [
  ...base,
  {
    files: ["agent/outbox/**/*.ts"],
    ignores: ["agent/outbox/store.ts", "agent/outbox/statements.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: `MemberExpression[object.property.name='statements'][property.name=/${ROW_CHANGES}/]`,
          message: ROW_CHANGE_MESSAGE,
        },
        {
          selector: `MemberExpression[object.name='statements'][property.name=/${ROW_CHANGES}/]`,
          message: ROW_CHANGE_MESSAGE,
        },
        {
          selector: `VariableDeclarator[init.property.name='statements'] > ObjectPattern > Property[key.name=/${ROW_CHANGES}/]`,
          message: ROW_CHANGE_MESSAGE,
        },
      ],
    },
  },
];
