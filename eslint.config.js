// Lint: `npm run lint`, the first step of `npm test`. typescript-eslint's recommended rules with
// type information, so a promise nobody awaits or handles is an error: in a daemon, a floating
// promise is a failure nobody hears of. Layout is Prettier's (`npm run format`), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'test/**/fixtures/**', 'test/reporter.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // An async method that returns at once implements a Promise-returning interface (a store, an event source).
      '@typescript-eslint/require-await': 'off',
      // Audit entries and API bodies are shown with String() on purpose: their fields are unknown JSON.
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowNever: true },
      ],
      // Stripping escape sequences and control characters from pane text is the point of those patterns.
      'no-control-regex': 'off',
      // A local named `process` hides the global one (its pid, env, exit code).
      'no-restricted-syntax': [
        'error',
        {
          selector: "VariableDeclarator > Identifier.id[name='process']",
          message: 'a local named process hides the global one',
        },
        {
          selector: ":function > Identifier.params[name='process']",
          message: 'a parameter named process hides the global one',
        },
      ],
    },
  },
  {
    // Lines of at most 120 characters in src/ (Prettier wraps code; comments and strings are wrapped by hand).
    files: ['src/**/*.ts'],
    rules: {
      'max-len': ['error', { code: 120, ignoreUrls: true }],
    },
  },
  {
    // Tests read JSON documents (API bodies, registries, CLI output) and assert on their fields.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      // chai's property assertions: expect(x).to.be.empty
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  { files: ['**/*.js', '**/*.cjs', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
