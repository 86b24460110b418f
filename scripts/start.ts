// `npm start` (after `npm run build`): launches the desktop studio from the checkout. First makes sure of
// what Electron needs beyond `npm install`: its binary (the electron package downloads it when missing)
// and better-sqlite3 built for its ABI in dist/native/ (scripts/electron-sqlite.ts), which main/main.ts
// hands to the engine process — node_modules keeps the build for Node, so `npm test` keeps working.
// Arguments after `--` go to Electron (e.g. `npm start -- --inspect`).
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { buildElectronSqlite, installedTarget, NativeBuildError } from './electron-sqlite.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function electronBinary(): string {
  const require = createRequire(import.meta.url);
  try {
    // The package's main export is the binary's path; it throws when the install skipped the download
    // (ELECTRON_SKIP_BINARY_DOWNLOAD, or install scripts not run): then run its installer once.
    try {
      return require('electron') as string;
    } catch {
      const installer = require.resolve('electron/install.js');
      const installed = spawnSync(process.execPath, [installer], { stdio: 'inherit', env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '' } });
      if (installed.status !== 0) throw new Error(`electron/install.js exited with ${installed.status}`);
      delete require.cache[require.resolve('electron')];
      return require('electron') as string;
    }
  } catch (error) {
    throw new NativeBuildError(
      [
        `Electron's binary is missing and could not be downloaded (${error instanceof Error ? error.message : String(error)}).`,
        'It is fetched from GitHub once per Electron version, so this needs the internet: connect and run `npm start` again.',
        'Web mode works offline: `npm run serve`.',
      ].join('\n'),
    );
  }
}

let binary: string;
try {
  binary = electronBinary();
  await buildElectronSqlite({ root, target: installedTarget(root), onStep: (line) => console.log(line) });
} catch (error) {
  if (!(error instanceof NativeBuildError)) throw error;
  console.error(error.message);
  process.exit(1);
}

const electron = spawn(binary, ['.', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
// Ctrl+C reaches Electron through the terminal; a signal sent to this script alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => electron.kill(signal));
electron.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
