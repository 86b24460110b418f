// `npm start` (after `npm run build`): launches the desktop studio from the checkout. First makes sure of
// what Electron needs beyond `npm install`: its binary (the electron package downloads it when missing)
// and better-sqlite3 built for its ABI in dist/native/ (scripts/electron-sqlite.ts), which main/main.ts
// hands to the engine process — node_modules keeps the build for Node, so `npm test` keeps working.
// Arguments after `--` go to Electron (e.g. `npm start -- --inspect`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildElectronSqlite, installedTarget, NativeBuildError } from './electron-sqlite.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The Electron binary the electron package installed (its `path.txt` names it inside `dist/`), if any. */
function installedElectron(packageDir: string): string | undefined {
  const pathFile = join(packageDir, 'path.txt');
  if (!existsSync(pathFile)) return undefined;
  const binary = join(packageDir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : undefined;
}

function electronBinary(): string {
  const packageDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  const installed = installedElectron(packageDir);
  if (installed) return installed;
  // The install skipped the download (ELECTRON_SKIP_BINARY_DOWNLOAD, or install scripts not run): run the
  // package's installer once.
  const run = spawnSync(process.execPath, [join(packageDir, 'install.js')], { stdio: 'inherit', env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '' } });
  const downloaded = run.status === 0 ? installedElectron(packageDir) : undefined;
  if (downloaded) return downloaded;
  throw new NativeBuildError(
    [
      `Electron's binary is missing and could not be downloaded (electron/install.js exited with ${run.status}).`,
      'It is fetched from GitHub once per Electron version, so this needs the internet: connect and run `npm start` again.',
      'Web mode works offline: `npm run serve`.',
    ].join('\n'),
  );
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
