// ESLint: the recommended rules of ESLint and typescript-eslint, plus the type-aware rules that
// catch promises nobody awaits or handles (no-floating-promises, no-misused-promises, await-thenable).
// Formatting is Prettier's (npm run format); nothing here checks layout.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "dashboard/vendor/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        // node:test's test() and describe() return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "describe", "it", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      // A leading underscore marks a parameter or binding kept for its position or to leave it out of a rest.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The AST walker reads acorn's ESTree nodes by their type tag.
    files: ["lib/wire/free-names.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    // The dashboard page runs in the browser.
    files: ["dashboard/**/*.js"],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
