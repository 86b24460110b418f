// What every browser test needs: the UI built once (cached by the hash of its sources), web mode started
// in-process on a random port over a temporary studio home with the real services, and Debian's
// Chromium driven by playwright-core. Not a test file itself.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import { startStudioServer, type StudioServer } from '../../app/server/studio-server.ts';

export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
export const golden = join(repositoryRoot, '..', 'shared', 'golden');
export const chromiumPath = process.env.AFA_CHROMIUM ?? '/usr/bin/chromium';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

/** Builds renderer/ with vite.config.ts into a temp folder named after the sources' hash (reused when unchanged). */
export async function builtRenderer(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of [...filesUnder(join(repositoryRoot, 'renderer')), join(repositoryRoot, 'vite.config.ts'), join(repositoryRoot, 'app', 'api', 'contract.ts')].sort()) {
    hash.update(relative(repositoryRoot, file)).update(readFileSync(file));
  }
  const outDir = join(tmpdir(), `afa-renderer-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(join(outDir, 'index.html')) && statSync(join(outDir, 'index.html')).size > 0) return outDir;
  await build({ configFile: join(repositoryRoot, 'vite.config.ts'), root: join(repositoryRoot, 'renderer'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  return outDir;
}

export interface StudioSession {
  readonly home: string;
  readonly services: StudioServices;
  readonly server: StudioServer;
  readonly browser: Browser;
  readonly page: Page;
  /** Console errors and page errors seen so far (failed requests excluded: 'unavailable' answers are 503s). */
  readonly problems: string[];
  close(): Promise<void>;
}

export interface StudioOptions {
  /** Runs on the empty studio home before the services open it (e.g. to leave files for reconciliation). */
  readonly prepare?: (home: string) => void;
  /** The built-in demo pack to set up on the new home (default: none, as for every other test). */
  readonly demoPack?: string;
}

export async function openStudio(options: StudioOptions = {}): Promise<StudioSession> {
  const rendererDirectory = await builtRenderer();
  const home = mkdtempSync(join(tmpdir(), 'afa-browser-'));
  options.prepare?.(home);
  const services = createStudioServices({ home, dataDirectoryFixed: true, version: 'test', ...(options.demoPack ? { demoPack: options.demoPack } : {}) });
  const server = await startStudioServer({ api: services, home, rendererDirectory });
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(server.url);
  return {
    home,
    services,
    server,
    browser,
    page,
    problems,
    async close() {
      await browser.close();
      await server.close();
      await services.dispose();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
