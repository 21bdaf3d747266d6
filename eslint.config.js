import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.local/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The core does no I/O: no cloud clients, sockets or tardis-dev, and never an adapter.
    files: ['functions/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@google-cloud/*', 'ws', 'tardis-dev', '@duckdb/*'],
              message: 'functions/core does no I/O: use a port.',
            },
            {
              group: ['**/adapters/**', '../adapters/*'],
              message: 'functions/core must not import adapters.',
            },
            {
              group: ['node:http', 'node:https', 'node:net', 'node:child_process'],
              message: 'functions/core does no I/O.',
            },
          ],
        },
      ],
    },
  },
);
