// `npm run build:native [-- --force] [-- --verbose]`: better-sqlite3's addon for the installed Electron,
// in dist/native/ (scripts/electron-sqlite.ts). `npm start` runs it when the file is missing; --force
// builds it again; --verbose shows the compiler's output.
import { fileURLToPath } from 'node:url';
import { buildElectronSqlite, installedTarget, NativeBuildError } from './electron-sqlite.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const options = new Set(process.argv.slice(2));
const unknown = [...options].filter((option) => option !== '--force' && option !== '--verbose');
if (unknown.length > 0) {
  console.error(`Unknown option ${unknown[0]}. Usage: npm run build:native [-- --force] [-- --verbose]`);
  process.exit(2);
}

try {
  const file = await buildElectronSqlite({
    root,
    target: installedTarget(root),
    force: options.has('--force'),
    onStep: (line) => console.log(line),
    onOutput: options.has('--verbose') ? (line) => console.log(`  ${line}`) : undefined,
  });
  console.log(`better-sqlite3 for Electron: ${file}`);
} catch (error) {
  if (!(error instanceof NativeBuildError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
