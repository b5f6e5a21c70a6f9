// ESLint flat config: typescript-eslint's strictTypeChecked rules, type-aware
// through the TypeScript project service (tsconfig.json), on src/, test/ and
// scripts/. bin/ and this file are plain JavaScript: ESLint's recommended rules.
import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import tseslint from 'typescript-eslint'

export default defineConfig(
  {
    // build output, dependencies, and the protons-generated code
    // (src/<area>/pb/, marked linguist-generated in .gitattributes)
    ignores: ['dist/', 'node_modules/', 'src/*/pb/**']
  },
  {
    files: ['bin/**/*.js', 'eslint.config.js'],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { process: 'readonly', console: 'readonly' }
    }
  },
  {
    // the web page (src/web/app, served as ES modules without a build step): browser JavaScript
    files: ['src/web/app/**/*.js'],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: Object.fromEntries(['window', 'document', 'location', 'history', 'navigator', 'fetch', 'WebSocket', 'URLSearchParams',
        'TextDecoderStream', 'AbortController', 'sessionStorage', 'crypto', 'console', 'setTimeout', 'clearTimeout', 'setInterval',
        'clearInterval', 'Intl'].map(name => [name, 'readonly']))
    },
    rules: { ...js.configs.recommended.rules, 'no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_' }] }
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname
      }
    },
    rules: {
      // the rules this project relies on: keep them errors everywhere in src/
      '@typescript-eslint/no-floating-promises': ['error', {
        // node:test's describe/it/test return promises the runner itself awaits
        allowForKnownSafeCalls: [{ from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' }]
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      // numbers in messages (sizes, counts, ports) are the common case and print fine
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // a `let` read by a cleanup closure declared before its one assignment cannot be const
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `_`-prefixed names are deliberately unused (`for await (const _ of …)`, `(_req, res) =>`)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      // without noUncheckedIndexedAccess, and blind to fields changed across an await
      // (`if (this.ending)`), it mostly flags deliberate defensive checks of untrusted input
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // async methods without await keep a promise-returning contract (route handlers,
      // interface implementations, async generators): an async body turns a throw into a rejection
      '@typescript-eslint/require-await': 'off',
      // `() => resolve()`-style shorthand callbacks returning a void call are idiomatic here
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }]
    }
  },
  {
    // tests and benchmarks reach into internals (casts to any, `!` on values the
    // test just set up): the type-safety rules are relaxed there, the promise rules are not
    files: ['test/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off'
    }
  }
)
