// Serves the built renderer (vite's output folder): exact files below the folder, and index.html for
// every other path without an extension (the UI's own routes). Nothing outside the folder is reachable.
import { existsSync, realpathSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { contentSecurityPolicy } from './content-security-policy.ts';
import { sendText, streamFile } from './http-replies.ts';

const types: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export function rendererMissingMessage(directory: string): string {
  return `The UI is not built (no ${join(directory, 'index.html')}). Run \`npm run build:renderer\` first.`;
}

export function serveStatic(directory: string, pathname: string, response: ServerResponse): void {
  if (!existsSync(join(directory, 'index.html'))) return sendText(response, 503, rendererMissingMessage(directory));
  const root = realpathSync(directory);
  let relative: string;
  try {
    relative = decodeURIComponent(pathname);
  } catch {
    return sendText(response, 400, 'Bad path.');
  }
  const segments = relative.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '..' || segment.includes('\\') || segment.includes('\0'))) {
    return sendText(response, 403, 'Forbidden.');
  }
  let file = join(root, ...segments);
  const isRoute = segments.length === 0 || extname(file) === '';
  if (isRoute) file = join(root, 'index.html');
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    return sendText(response, 404, 'Not found.');
  }
  if (real !== root && !real.startsWith(root + sep)) return sendText(response, 403, 'Forbidden.');
  const stats = statSync(real);
  if (!stats.isFile()) return sendText(response, 404, 'Not found.');
  const type = types[extname(real)] ?? 'application/octet-stream';
  response.setHeader('Content-Type', type);
  response.setHeader('Content-Length', stats.size);
  // Vite fingerprints asset names (assets/index-3f2a.js), so they never change; index.html always may.
  response.setHeader('Cache-Control', segments[0] === 'assets' ? 'private, max-age=31536000, immutable' : 'no-cache');
  if (type.startsWith('text/html')) response.setHeader('Content-Security-Policy', contentSecurityPolicy());
  response.writeHead(200);
  streamFile(response, real);
}
