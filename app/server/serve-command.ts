// `npm run serve` / `afa serve [--host <address>] [--port <n>] [--home <folder>]`: starts the services on
// the studio home and web mode on top, prints the URL with the session token, stops on Ctrl+C.
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { UserError } from '../common/errors.ts';
import { defaultStudioHome } from '../common/paths.ts';
import { createStudioServices } from '../api/services.ts';
import { rendererMissingMessage } from './static-files.ts';
import { startStudioServer, type StudioServer } from './studio-server.ts';

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  readonly home: string;
  readonly rendererDirectory: string;
}

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
export const defaultRendererDirectory = fileURLToPath(new URL('../../dist/renderer', import.meta.url));

export function parseServeArguments(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const options = { host: '127.0.0.1', port: 0, home: defaultStudioHome(env), rendererDirectory: defaultRendererDirectory };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    const need = () => {
      if (value === undefined || value.startsWith('--')) throw new UserError('invalid-argument', `${flag} needs a value.`);
      i++;
      return value;
    };
    if (flag === '--host') options.host = need();
    else if (flag === '--home') options.home = need();
    else if (flag === '--port') {
      const port = Number(need());
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError('invalid-argument', `--port must be 0–65535, got ${value}.`);
      options.port = port;
    } else throw new UserError('invalid-argument', `Unknown option ${flag}.`, 'Usage: afa serve [--host <address>] [--port <n>] [--home <folder>]');
  }
  return options;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(`${repositoryRoot}package.json`, 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function lanUrls(server: StudioServer): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((info) => info !== undefined && info.family === 'IPv4' && !info.internal)
    .map((info) => `http://${info!.address}:${server.port}/?token=${server.token}`);
}

/** A checkout without a built UI builds it once (vite is a dev dependency; a packaged app ships the build). */
async function ensureRenderer(directory: string, print: (line: string) => void): Promise<void> {
  if (existsSync(`${directory}/index.html`)) return;
  if (directory !== defaultRendererDirectory) throw new UserError('not-found', rendererMissingMessage(directory));
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    throw new UserError('not-found', rendererMissingMessage(directory));
  }
  print('Building the UI (once)…');
  await vite.build({ configFile: `${repositoryRoot}vite.config.ts`, root: `${repositoryRoot}renderer`, logLevel: 'warn' });
}

/** Starts web mode; resolves with a function that stops it. */
export async function serve(options: ServeOptions, print: (line: string) => void = console.log): Promise<() => Promise<void>> {
  await ensureRenderer(options.rendererDirectory, print);
  const services = createStudioServices({ home: options.home, dataDirectoryFixed: true, version: packageVersion() });
  const server = await startStudioServer({ api: services, home: options.home, rendererDirectory: options.rendererDirectory, host: options.host, port: options.port });
  print('AFA Studio (web mode)');
  print(`  Open:  ${server.url}`);
  if (options.host === '0.0.0.0') for (const url of lanUrls(server)) print(`  LAN:   ${url}`);
  print(`  Data:  ${options.home}`);
  print('The link contains the session token; anyone with it can use the studio. Press Ctrl+C to stop.');
  return async () => {
    await server.close();
    await services.dispose();
  };
}

/** The command: serve until SIGINT/SIGTERM. Returns the exit code. */
export async function serveCommand(argv: readonly string[]): Promise<number> {
  let stop: () => Promise<void>;
  try {
    stop = await serve(parseServeArguments(argv));
  } catch (error) {
    if (error instanceof UserError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stop();
  return 0;
}
