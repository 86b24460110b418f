// Builds better-sqlite3's addon for Electron into dist/native/ (main/sqlite-binding.ts names the file),
// leaving node_modules' build for the system Node alone, so `npm start` and `npm test` both work from
// one checkout. The package is copied to a staging folder (its build/ excluded) and built there the way
// better-sqlite3's own install script does: a prebuilt addon for Electron's ABI from the project's
// GitHub releases (prebuild-install), else node-gyp against Electron's headers (what
// @electron/rebuild does). Either needs the internet once per Electron version; the headers are cached
// in ~/.electron-gyp, the folder @electron/rebuild and electron-builder use too.
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { installedVersion, sqliteBindingFile, type SqliteBindingTarget } from '../main/sqlite-binding.ts';

export const electronHeadersUrl = 'https://electronjs.org/headers';

export interface ElectronSqliteBuild {
  /** The repository root (with node_modules). */
  readonly root: string;
  readonly target: SqliteBindingTarget;
  /** Where node-gyp downloads Electron's headers from. */
  readonly headersUrl?: string;
  /** Where node-gyp keeps the downloaded headers; default ~/.electron-gyp. */
  readonly headersCache?: string;
  /** Try a prebuilt addon before compiling (default true). */
  readonly prebuilt?: boolean;
  /** Build again even when the file exists. */
  readonly force?: boolean;
  /** Receives what is being done ('Compiling …'). */
  readonly onStep?: (line: string) => void;
  /** Receives the tools' own output, line by line (compiler warnings included). */
  readonly onOutput?: (line: string) => void;
}

/** A build that could not be made; the message says why and what to do. */
export class NativeBuildError extends Error {
  override readonly name = 'NativeBuildError';
}

/** Electron and better-sqlite3 as installed in `<root>/node_modules`, for this machine's platform and architecture. */
export function installedTarget(root: string, host: { platform: string; arch: string } = process): SqliteBindingTarget {
  const electron = installedVersion(root, 'electron');
  const betterSqlite3 = installedVersion(root, 'better-sqlite3');
  if (!electron || !betterSqlite3) {
    throw new NativeBuildError(`${electron ? 'better-sqlite3' : 'Electron'} is not installed in ${join(root, 'node_modules')}. Run \`npm install\` first.`);
  }
  return { electron, betterSqlite3, platform: host.platform, arch: host.arch };
}

/** prebuild-install's arguments: the addon published for this Electron's ABI, platform and architecture. */
export function prebuildArguments(target: SqliteBindingTarget): string[] {
  return ['--runtime=electron', `--target=${target.electron}`, `--platform=${target.platform}`, `--arch=${target.arch}`, '--verbose'];
}

/** node-gyp's arguments: a release build against Electron's headers instead of the running Node's. */
export function nodeGypArguments(target: SqliteBindingTarget, headersUrl: string, headersCache: string): string[] {
  return ['rebuild', '--release', `--target=${target.electron}`, `--arch=${target.arch}`, `--dist-url=${headersUrl}`, `--devdir=${headersCache}`, '--jobs=max'];
}

// npm passes its configuration to scripts as npm_config_* variables, and node-gyp and prebuild-install
// read them as options: a `nodedir` or `target` from someone's .npmrc would silently build against the
// running Node's headers instead of Electron's. The explicit arguments decide; proxies etc. stay.
const overridingSettings = ['nodedir', 'target', 'target_arch', 'arch', 'platform', 'runtime', 'dist_url', 'disturl', 'devdir', 'build_from_source'];

export function toolEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !overridingSettings.some((setting) => name.toLowerCase() === `npm_config_${setting}`)));
}

/** Runs `node <script> ...args` in `cwd`; resolves with the exit code and the output's last 400 lines. */
function runNode(script: string, args: readonly string[], cwd: string, log: (line: string) => void): Promise<{ code: number; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, env: toolEnvironment(process.env), stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const take = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split(/\r?\n/)) {
        if (line.trim() === '') continue;
        log(line);
        lines.push(line.trim());
        if (lines.length > 400) lines.shift();
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), lines }));
  });
}

/**
 * The line(s) of a tool's output that say why it failed: a compiler's first `error:`, else node-gyp's
 * error text (`gyp ERR! stack Error: …` and its continuation, without the stack frames), else a
 * warning from prebuild-install, else the last line.
 */
export function failureSummary(lines: readonly string[], code: number): string {
  const compiler = lines.find((line) => /\berror:/i.test(line) && !line.includes('ERR!'));
  if (compiler) return compiler;
  const start = lines.findIndex((line) => /ERR! stack \w*Error\b/.test(line));
  if (start >= 0) {
    const text: string[] = [];
    for (const line of lines.slice(start)) {
      const body = line.replace(/^.*?ERR! stack\s?/, '');
      if (!line.includes('ERR! stack') || body.startsWith('at ')) break;
      text.push(body);
    }
    return text.join(' ');
  }
  return lines.find((line) => / (warn|ERR!) /.test(line)) ?? lines.at(-1) ?? `exit code ${code}`;
}

function packageFile(root: string, name: string, ...path: string[]): string {
  const file = join(root, 'node_modules', name, ...path);
  if (!existsSync(file)) throw new NativeBuildError(`${join('node_modules', name, ...path)} is missing. Run \`npm install\` first.`);
  return file;
}

/**
 * Makes sure the Electron build of better-sqlite3 exists (see main/sqlite-binding.ts) and returns its
 * path. The file appears only when complete; a failed build leaves nothing behind.
 */
export async function buildElectronSqlite(build: ElectronSqliteBuild): Promise<string> {
  const { root, target } = build;
  const file = sqliteBindingFile(root, target);
  if (existsSync(file) && !build.force) return file;
  const step = build.onStep ?? (() => undefined);
  const output = build.onOutput ?? (() => undefined);
  const headersUrl = build.headersUrl ?? electronHeadersUrl;
  const headersCache = build.headersCache ?? join(homedir(), '.electron-gyp');
  const source = packageFile(root, 'better-sqlite3');
  const nodeGyp = packageFile(root, 'node-gyp', 'bin', 'node-gyp.js');

  mkdirSync(dirname(file), { recursive: true });
  // A staging copy beside the target (same file system, so the final rename is atomic).
  const staging = mkdtempSync(join(dirname(file), '.staging-'));
  try {
    const packageCopy = join(staging, 'better-sqlite3');
    cpSync(source, packageCopy, { recursive: true, filter: (path) => path !== join(source, 'build') && path !== join(source, 'node_modules') });
    const built = join(packageCopy, 'build', 'Release', 'better_sqlite3.node');
    const failures: string[] = [];
    if (build.prebuilt ?? true) {
      step(`Fetching a prebuilt better-sqlite3 ${target.betterSqlite3} for Electron ${target.electron} (${target.platform}-${target.arch})…`);
      const prebuild = await runNode(packageFile(root, 'prebuild-install', 'bin.js'), prebuildArguments(target), packageCopy, output);
      if (!existsSync(built)) failures.push(`prebuilt: ${failureSummary(prebuild.lines, prebuild.code)}`);
    }
    if (!existsSync(built)) {
      step(`Compiling better-sqlite3 ${target.betterSqlite3} against Electron ${target.electron}'s headers (${headersUrl})…`);
      const compile = await runNode(nodeGyp, nodeGypArguments(target, headersUrl, headersCache), packageCopy, output);
      if (!existsSync(built)) failures.push(`compiling: ${failureSummary(compile.lines, compile.code)}`);
    }
    if (!existsSync(built)) {
      throw new NativeBuildError(
        [
          `Could not build better-sqlite3 ${target.betterSqlite3} for Electron ${target.electron} (${target.platform}-${target.arch}).`,
          ...failures.map((failure) => `  ${failure}`),
          `This needs the internet once per Electron version: a prebuilt addon from better-sqlite3's GitHub releases, or Electron's headers from ${headersUrl} plus Python and a C++ compiler (node-gyp's requirements) to compile it.`,
          'Connect and run `npm start` (or `npm run build:native`) again. Web mode works offline: `npm run serve`.',
        ].join('\n'),
      );
    }
    const temporary = join(staging, 'better_sqlite3.node');
    copyFileSync(built, temporary);
    renameSync(temporary, file);
    return file;
  } finally {
    rmSync(staging, { recursive: true, force: true });
    // The version's folder, if this build made it and left it empty.
    if (readdirSync(dirname(file)).length === 0) rmdirSync(dirname(file));
  }
}
