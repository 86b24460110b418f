// Where a checkout keeps better-sqlite3's addon compiled for Electron. node_modules holds the build for
// the system Node (the tests run there); Electron embeds another Node ABI (NODE_MODULE_VERSION), so a
// development run of the desktop app loads a second build from dist/native/ through better-sqlite3's
// `nativeBinding` option. scripts/build-native.ts makes it; main/main.ts points the engine at it. A
// packaged app never uses this: electron-builder rebuilds node_modules for Electron at packaging time.
// Plain Node (no electron import), so the build scripts share the naming.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SqliteBindingTarget {
  /** Electron's version, e.g. '45.5.0' (process.versions.electron, or node_modules/electron). */
  readonly electron: string;
  /** better-sqlite3's version: its JavaScript and its addon must come from the same release. */
  readonly betterSqlite3: string;
  /** process.platform / process.arch of the Electron that loads it. */
  readonly platform: string;
  readonly arch: string;
}

/** `<root>/dist/native/electron-<version>-<platform>-<arch>/better-sqlite3-<version>.node`: one per Electron and better-sqlite3 version. */
export function sqliteBindingFile(root: string, target: SqliteBindingTarget): string {
  return join(root, 'dist', 'native', `electron-${target.electron}-${target.platform}-${target.arch}`, `better-sqlite3-${target.betterSqlite3}.node`);
}

/** The version of a package installed in `<root>/node_modules`, or undefined when it is not installed. */
export function installedVersion(root: string, name: string): string | undefined {
  const file = join(root, 'node_modules', name, 'package.json');
  if (!existsSync(file)) return undefined;
  const version = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version;
  return typeof version === 'string' ? version : undefined;
}
