// ESLint flat config: typescript-eslint's recommended rules for every TypeScript file,
// with the globals each part runs under (Node for the host, provider and tests;
// the WebExtension/DOM for the add-on; Gecko's chrome scope for the Experiment).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.test-output/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx', 'scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        setImmediate: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
      },
    },
  },
  {
    files: ['extension/experiments/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        dump: 'readonly',
        ChromeUtils: 'readonly',
        Ci: 'readonly',
        Cc: 'readonly',
        Services: 'readonly',
        ExtensionCommon: 'readonly',
        console: 'readonly',
      },
    },
    rules: {
      'no-var': 'off',
      // Thunderbird finds the Experiment's API class through its top-level name.
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { varsIgnorePattern: '^leapbirdAccounts$', argsIgnorePattern: '^_' },
      ],
    },
  },
);
