// Serves the built renderer (vite's output folder): exact files below the folder, and index.html for
// every other path without an extension (the UI's own routes). Nothing outside the folder is reachable.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { contentSecurityPolicy } from './content-security-policy.ts';
import { sendText, streamFile } from './http-replies.ts';
import { tokenMetaName } from './session-token.ts';

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

/**
 * The page with the session token in a <meta> for its script (session-token.ts: API calls and the event
 * socket carry it, not the cookie). The token is base64url, safe inside an attribute as it is.
 */
function pageWithToken(html: string, token: string): string {
  const meta = `<meta name="${tokenMetaName}" content="${token}" />`;
  const head = /<head[^>]*>/i.exec(html);
  return head ? `${html.slice(0, head.index + head[0].length)}${meta}${html.slice(head.index + head[0].length)}` : `${meta}${html}`;
}

/** Serves a file of the built UI; HTML pages get `token` for their script (and are never cached). */
export function serveStatic(directory: string, pathname: string, response: ServerResponse, token: string): void {
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
  if (type.startsWith('text/html')) {
    const page = pageWithToken(readFileSync(real, 'utf8'), token);
    response.setHeader('Content-Security-Policy', contentSecurityPolicy());
    response.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(page), 'Cache-Control': 'no-store' });
    response.end(page);
    return;
  }
  response.setHeader('Content-Type', type);
  response.setHeader('Content-Length', stats.size);
  // Vite fingerprints asset names (assets/index-3f2a.js), so they never change.
  response.setHeader('Cache-Control', segments[0] === 'assets' ? 'private, max-age=31536000, immutable' : 'no-cache');
  response.writeHead(200);
  streamFile(response, real);
}
