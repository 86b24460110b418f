// A web-mode server over in-process services on a fresh studio home, for the server tests: raw HTTP
// requests (so a test controls every header and byte) and a check that the server still answers.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import { startStudioServer, type StudioServer, type StudioServerConfig } from '../../app/server/studio-server.ts';

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

export interface StudioFixture {
  readonly root: string;
  readonly home: string;
  readonly services: StudioServices;
  readonly server: StudioServer;
  readonly auth: Record<string, string>;
  send(path: string, options?: SendOptions): Promise<Reply>;
  call(method: string, body: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** Asserts that the server still serves an API call. */
  assertAnswering(): Promise<void>;
  close(): Promise<void>;
}

type ExtraConfig = Partial<Omit<StudioServerConfig, 'api' | 'dispatcher' | 'home' | 'rendererDirectory'>>;

export async function startStudioFixture(prefix: string, extra: ExtraConfig = {}): Promise<StudioFixture> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const home = join(root, 'home');
  const renderer = join(root, 'renderer');
  mkdirSync(renderer, { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>AFA Studio</title>');
  const services = createStudioServices({ home, dataDirectoryFixed: true });
  const server = await startStudioServer({ api: services, home, rendererDirectory: renderer, ...extra });
  const auth = { 'x-afa-token': server.token };
  const send = (path: string, options: SendOptions = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      // The path as given, byte for byte (a URL string would be normalised first).
      const request = httpRequest({ host: '127.0.0.1', port: server.port, path, method: options.method ?? 'GET', headers: options.headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(options.body);
    });
  const call = (method: string, body: unknown, headers: Record<string, string> = auth) =>
    send(`/api/${method}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? '' : JSON.stringify(body) });
  return {
    root,
    home,
    services,
    server,
    auth,
    send,
    call,
    async assertAnswering() {
      const reply = await call('settings.get', undefined);
      assert.equal(reply.status, 200, reply.body);
    },
    async close() {
      await server.close();
      await services.dispose();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
