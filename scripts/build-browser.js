#!/usr/bin/env node
// Builds the browser entry (`npm run build:browser`, part of build:ts) with esbuild into dist/browser/:
//   index.js  the ES module a page or a bundler imports (package.json exports, condition "browser");
//   worker.js the classic Web Worker that runs the WebAssembly engine (classic, so that it and the engine's
//             own thread workers can load wasm/kbfgs_native.js with importScripts).
// The lib/ sources are the Node ones: lib/binding.ts is replaced by lib/browser/binding.ts, the Node modules
// by lib/browser/shims/node.ts, and `process` by a module-level stand-in (lib/browser/shims/process.ts).
'use strict';
const path = require('path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
const lib = path.join(root, 'lib');
const browserDir = path.join(lib, 'browser');
const NODE_MODULES = ['fs', 'path', 'os', 'util', 'crypto', 'zlib', 'buffer', 'child_process', 'worker_threads'];

const forTheBrowser = {
  name: 'kbfgs-browser',
  setup(build) {
    const nodeFilter = new RegExp(`^(node:)?(${NODE_MODULES.join('|')})$`);
    build.onResolve({ filter: nodeFilter }, () => ({ path: path.join(browserDir, 'shims', 'node.ts') }));
    build.onResolve({ filter: /^\.\.?\/(\.\.\/)?binding$/ }, (args) => {
      const resolved = path.join(args.resolveDir, args.path);
      if (resolved !== path.join(lib, 'binding') || args.importer.startsWith(browserDir + path.sep)) return undefined;
      return { path: path.join(browserDir, 'binding.ts') };
    });
    build.onResolve({ filter: /wasm-engine$/ }, () => ({ errors: [{ text: 'the Node loader of the engine must not reach a browser bundle' }] }));
  },
};

const common = {
  bundle: true,
  platform: 'browser',
  target: ['es2022'],
  sourcemap: true,
  logLevel: 'warning',
  plugins: [forTheBrowser],
  inject: [path.join(browserDir, 'shims', 'process.ts')],
  define: { __dirname: '"/"', __filename: '"/index.js"' },
  // lib/ reads these only where a file system is involved
  logOverride: { 'import-is-undefined': 'silent' },
};

Promise.all([
  esbuild.build({ ...common, entryPoints: [path.join(browserDir, 'index.ts')], format: 'esm', outfile: path.join(root, 'dist', 'browser', 'index.js') }),
  esbuild.build({ ...common, entryPoints: [path.join(browserDir, 'worker.ts')], format: 'iife', outfile: path.join(root, 'dist', 'browser', 'worker.js') }),
]).catch((error) => {
  console.error(error.message);
  process.exit(1);
});
