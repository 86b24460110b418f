// `npm run serve` / `afa serve [--host <address>] [--port <n>] [--home <folder>]`: starts the engine
// process (the services on the studio home, as the desktop app's utility process runs them) and web mode
// on top, prints the URL with the session token, stops both on Ctrl+C. The server process itself never
// runs inference, so pages, images and events keep flowing while a generation runs.
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { assertWritableHome } from '../common/writable-home.ts';
import { UserError } from '../common/errors.ts';
import { defaultStudioHome } from '../common/paths.ts';
import { ApiError } from '../api/api-error.ts';
import { demoPackDirectory } from '../demo/demo-pack-location.ts';
import { EngineHost } from './engine-host.ts';
import type { EngineChild } from './engine-messages.ts';
import { forkEngine } from './fork-engine.ts';
import { isWildcardAddress } from './request-guard.ts';
import { rendererMissingMessage } from './static-files.ts';
import { startStudioServer, type StudioServer } from './studio-server.ts';

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  readonly home: string;
  readonly rendererDirectory: string;
  /** Starts an engine process; default forkEngine (tests may pass one with another environment). */
  readonly spawnEngine?: () => EngineChild;
  /** Memory a generation may need, bytes; default 80% of the machine's. */
  readonly memoryBudgetBytes?: number;
  /** The demo pack set up on a new home (null or absent: none); the command line's is demoPackDirectory(). */
  readonly demoPack?: string | null;
}

export interface RunningServe {
  readonly server: StudioServer;
  readonly engine: EngineHost;
  /** Stops the server, then the engine (jobs cancelled, library closed). */
  stop(): Promise<void>;
}

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
export const defaultRendererDirectory = fileURLToPath(new URL('../../dist/renderer', import.meta.url));

export function parseServeArguments(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const options = { host: '127.0.0.1', port: 0, home: defaultStudioHome(env), rendererDirectory: defaultRendererDirectory, demoPack: demoPackDirectory(env) };
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

/**
 * What --host with an address other than loopback means, said before anyone opens the link: the studio
 * has no accounts, TLS or rate limits; the token is its only lock, and plain HTTP shows it to the network.
 */
export function exposureWarning(host: string): string[] {
  return [
    `WARNING: listening on ${host} exposes the studio to other machines on your network.`,
    '  Anyone with the link can generate, see every image and prompt in your history, import and delete',
    '  models, and fill this disk. The link travels over plain HTTP: anyone who can watch the network',
    '  (shared Wi-Fi, a café, a hotel) can read the token in it and use the studio too.',
    '  Only do this on a network you trust, and stop the server (Ctrl+C) when you are done.',
  ];
}

function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
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

/** Starts the engine process and web mode on top; resolves once both are up. */
export async function serve(options: ServeOptions, print: (line: string) => void = console.log): Promise<RunningServe> {
  assertWritableHome(options.home);
  await ensureRenderer(options.rendererDirectory, print);
  const engine = new EngineHost({
    spawn: options.spawnEngine ?? (() => forkEngine()),
    config: {
      home: options.home,
      dataDirectoryFixed: true,
      version: packageVersion(),
      ...(options.memoryBudgetBytes ? { memoryBudgetBytes: options.memoryBudgetBytes } : {}),
      ...(options.demoPack ? { demoPack: options.demoPack } : {}),
    },
    onCrash: (reason, restarting) => console.error(`${reason} ${restarting ? 'Restarting it.' : 'It crashed repeatedly; restart `afa serve`.'}`),
  });
  let server: StudioServer;
  try {
    await engine.start();
    server = await startStudioServer({ dispatcher: engine, home: options.home, rendererDirectory: options.rendererDirectory, host: options.host, port: options.port });
  } catch (error) {
    await engine.stop();
    throw error;
  }
  print('AFA Studio (web mode)');
  print(`  Open:  ${server.url}`);
  if (isWildcardAddress(options.host)) for (const url of lanUrls(server)) print(`  LAN:   ${url}`);
  print(`  Data:  ${options.home}`);
  if (!isLoopbackAddress(options.host)) for (const line of exposureWarning(options.host)) print(line);
  print('The link contains the session token; anyone with it can use the studio. Press Ctrl+C to stop.');
  return {
    server,
    engine,
    async stop() {
      await server.close();
      await engine.stop();
    },
  };
}

/** The command: serve until SIGINT/SIGTERM. Returns the exit code. */
export async function serveCommand(argv: readonly string[]): Promise<number> {
  let running: RunningServe;
  try {
    running = await serve(parseServeArguments(argv));
  } catch (error) {
    if (error instanceof UserError) {
      console.error(error.hint ? `${error.message} ${error.hint}` : error.message);
      return 2;
    }
    // The engine could not start its services (a database from a newer version, a damaged one, ...).
    if (error instanceof ApiError) {
      console.error(error.hint ? `${error.message} ${error.hint}` : error.message);
      return error.code === 'internal' ? 1 : 2;
    }
    throw error;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.stop();
  return 0;
}
