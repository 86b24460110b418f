// `npm run build:main`: bundles the Electron side (main process, preload, engine utility process) into
// dist/main/*.cjs with esbuild. CommonJS, because a sandboxed preload can only be CommonJS and the
// utility process is started from a plain script; npm packages stay external (electron-builder ships
// them in node_modules, and the native ones — onnxruntime-node, better-sqlite3 — cannot be bundled).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// `import.meta.url` means nothing in CommonJS; give every bundle the URL of its own file instead.
const importMetaShim = {
  define: { 'import.meta.url': '__afaImportMetaUrl' },
  banner: { js: "var __afaImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
};

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  sourcemap: 'linked',
  outExtension: { '.js': '.cjs' },
  outdir: 'dist/main',
  logLevel: 'info',
} as const;

await build({ ...common, ...importMetaShim, entryPoints: ['main/main.ts', 'main/engine-process.ts'], packages: 'external' });
// The engine's inference thread (app/runtime/inference-thread.ts) starts dist/main/inference-worker.cjs,
// found next to the engine's bundle; built alone so it lands in dist/main/ and not under app/runtime/.
await build({ ...common, ...importMetaShim, entryPoints: ['app/runtime/inference-worker.ts'], packages: 'external' });
// The preload runs sandboxed: only 'electron' may stay external, everything else is inlined.
await build({ ...common, entryPoints: ['main/preload.ts'], external: ['electron'] });
