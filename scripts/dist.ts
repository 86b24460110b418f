// `npm run dist` (after `npm run build`): electron-builder with electron-builder.yml, then node_modules'
// better-sqlite3 put back as it was. electron-builder rebuilds native modules for Electron in place
// (@electron/rebuild on node_modules, `npmRebuild: true`), which would leave the checkout's Node — and
// so `npm test` — with an addon for another ABI, and a `.forge-meta` marker that makes the next packaging
// skip the rebuild of a file that is by then the Node build again. Arguments go to electron-builder.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { restoreSnapshot, takeSnapshot } from './file-snapshot.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const release = join(root, 'node_modules', 'better-sqlite3', 'build', 'Release');

const saved = takeSnapshot([join(release, 'better_sqlite3.node'), join(release, '.forge-meta')]);
const cli = join(root, 'node_modules', 'electron-builder', 'cli.js');
// Ctrl+C reaches electron-builder through the terminal; this script must live on to restore the files.
process.on('SIGINT', () => undefined);
let status: number;
try {
  const result = spawnSync(process.execPath, [cli, '--config', 'electron-builder.yml', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
  status = result.status ?? 1;
} finally {
  restoreSnapshot(saved);
}
if (status !== 0) console.error('electron-builder failed. Packaging needs the internet (Electron, its headers, AppImage/NSIS/dmg tools); see README.md, Packaging.');
process.exitCode = status;
