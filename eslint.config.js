// Lint keeps workflow code sandbox-safe and promises handled.
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = [
  'assert',
  'buffer',
  'child_process',
  'crypto',
  'dns',
  'events',
  'fs',
  'http',
  'https',
  'net',
  'os',
  'path',
  'process',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'worker_threads',
  'zlib',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'db/migrations/**', 'dist/**', '.build-test-*/**', '.lakesync/**'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommended],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // A binding a closure reads before its one assignment stays a let.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // A leading underscore marks a binding kept on purpose (a destructured-away field, a positional argument).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // Tests read JSON response bodies loosely; what a body must hold is what each test asserts.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Text from the edge goes through the one helper that refuses control characters.
    // Response shapes (api/contract/) describe text the API sends, which the CLI must read whatever it holds.
    files: ['api/**/*.ts', 'domain/**/*.ts'],
    ignores: ['domain/text.ts', 'api/contract/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='z'][callee.property.name='string']",
          message: 'use text() from domain/text.ts: it refuses control characters and unpaired surrogates',
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...NODE_BUILTINS, ...NODE_BUILTINS.map((m) => `node:${m}`)].map((name) => ({
            name,
            message: 'workflow code runs in a deterministic sandbox: do I/O in activities',
          })),
          patterns: [
            {
              group: [
                '**/db/**',
                'drizzle-orm',
                'drizzle-orm/*',
                'postgres',
                '@aws-sdk/*',
                'pino',
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
              ],
              message: 'workflow code runs in a deterministic sandbox: do I/O in activities',
            },
            { group: ['**/activities/**', '!**/activities/index.js'], message: 'import activity types only, through activities/index.js' },
          ],
        },
      ],
    },
  },
);
