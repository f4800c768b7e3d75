// @ts-check
// The lint rules of every TypeScript project in this repository (the agent, deploy/aws).
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * @param {string} rootDir the folder of the calling eslint.config.js
 * @param {string[]} ignores folders that are not this project's sources
 */
export function reeferEslint(rootDir, ignores) {
  return tseslint.config(
    { ignores },
    eslint.configs.recommended,
    ...tseslint.configs.strictTypeChecked,
    {
      languageOptions: {
        parserOptions: { projectService: true, tsconfigRootDir: rootDir },
      },
      rules: {
        // A dropped promise is a dropped error: in an agent that must not lose data, every
        // promise is awaited, returned, or handed to a handler that logs it.
        "@typescript-eslint/no-floating-promises": "error",
        "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
        "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
        "@typescript-eslint/no-confusing-void-expression": [
          "error",
          { ignoreArrowShorthand: true },
        ],
      },
    },
    { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
  );
}
