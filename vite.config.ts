import { resolve } from 'node:path';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// Builds the add-on's background module and its Preact pages into dist/extension/.
// File names are stable (no hashes): the manifest names them.
export default defineConfig({
  root: resolve(import.meta.dirname, 'extension'),
  base: './',
  plugins: [preact()],
  publicDir: false,
  // Module paths in the output's comments stay relative to the checkout even when
  // node_modules is a symlink to another folder, so builds in any folder give the same XPI.
  resolve: { preserveSymlinks: true },
  build: {
    outDir: resolve(import.meta.dirname, 'dist/extension'),
    emptyOutDir: true,
    target: 'firefox128',
    modulePreload: false,
    sourcemap: false,
    minify: false,
    rollupOptions: {
      input: {
        background: resolve(import.meta.dirname, 'extension/background/main.ts'),
        popup: resolve(import.meta.dirname, 'extension/ui/popup/index.html'),
        setup: resolve(import.meta.dirname, 'extension/ui/setup/index.html'),
        keys: resolve(import.meta.dirname, 'extension/ui/keys/index.html'),
        compose: resolve(import.meta.dirname, 'extension/ui/compose/index.html'),
        // A message display script is not a module: it must import nothing at run time.
        banner: resolve(import.meta.dirname, 'extension/ui/banner/banner.ts'),
      },
      output: {
        entryFileNames: '[name].js',
        chunkFileNames: 'chunks/[name].js',
        assetFileNames: 'assets/[name][extname]',
      },
    },
  },
});
