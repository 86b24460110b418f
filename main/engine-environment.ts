// The environment the engine process starts with. In a checkout (`npm start`, `electron .`) it names the
// better-sqlite3 addon built for Electron in dist/native/ (main/sqlite-binding.ts), because node_modules
// keeps the build for the system Node that the tests use. A packaged app loads the addon in its own
// node_modules, which electron-builder rebuilt for Electron: a variable set by the user's shell is dropped.
import { existsSync } from 'node:fs';
import { installedVersion, sqliteBindingFile } from './sqlite-binding.ts';

/**
 * The variable app/library/open-database.ts reads (its `nativeBindingVariable`; a test keeps the two
 * equal). Not imported: the main process bundle stays free of the database library.
 */
export const nativeBindingVariable = 'AFA_SQLITE_BINDING';

export interface EngineEnvironmentInput {
  /** Electron's app.isPackaged. */
  readonly packaged: boolean;
  /** app.getAppPath(): the checkout's root in a development run. */
  readonly appPath: string;
  /** process.versions.electron, process.platform, process.arch. */
  readonly electron: string;
  readonly platform: string;
  readonly arch: string;
}

export interface EngineEnvironment {
  readonly env: NodeJS.ProcessEnv;
  /** Why a development run has no Electron build of better-sqlite3, and what to run. */
  readonly warning?: string;
}

export function engineEnvironment(env: NodeJS.ProcessEnv, input: EngineEnvironmentInput): EngineEnvironment {
  const { [nativeBindingVariable]: given, ...rest } = env;
  if (input.packaged) return { env: rest };
  // Someone pointing the studio at an addon on purpose.
  if (given) return { env };
  const betterSqlite3 = installedVersion(input.appPath, 'better-sqlite3');
  if (!betterSqlite3) return { env: rest, warning: `better-sqlite3 is not installed in ${input.appPath}/node_modules; run \`npm install\`.` };
  const file = sqliteBindingFile(input.appPath, { electron: input.electron, betterSqlite3, platform: input.platform, arch: input.arch });
  if (!existsSync(file)) {
    return { env: rest, warning: `No better-sqlite3 build for Electron ${input.electron} at ${file}; the engine will try node_modules' build (made for Node). Run \`npm run build:native\` (\`npm start\` does it).` };
  }
  return { env: { ...rest, [nativeBindingVariable]: file } };
}
