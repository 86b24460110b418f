// The window's two custom schemes:
// - afa-app://studio/…   the built UI (dist/renderer), with the studio's Content-Security-Policy;
// - afa-image://studio/… images below the data directory only (app/api/image-file.ts decides), so a page
//   that went wrong still cannot read library.sqlite or any file outside the studio.
import { realpathSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { net, protocol } from 'electron';
import { toErrorData } from '../app/api/api-error.ts';
import { resolveImageFile } from '../app/api/image-file.ts';
import { contentSecurityPolicy } from '../app/server/content-security-policy.ts';

export const appScheme = 'afa-app';
export const imageScheme = 'afa-image';
export const appOrigin = `${appScheme}://studio`;

/** Must run before the app is ready. */
export function registerSchemes(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: appScheme, privileges: { standard: true, secure: true, supportFetchAPI: true } },
    { scheme: imageScheme, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

function plain(status: number, text: string): Response {
  return new Response(text, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}

export function handleAppScheme(rendererDirectory: string): void {
  const root = realpathSync(rendererDirectory);
  protocol.handle(appScheme, async (request) => {
    const url = new URL(request.url);
    if (url.host !== 'studio') return plain(404, 'Not found.');
    const segments = decodeURIComponent(url.pathname).split('/').filter(Boolean);
    if (segments.some((segment) => segment === '..' || segment.includes('\\'))) return plain(403, 'Forbidden.');
    let file: string;
    try {
      file = realpathSync(join(root, ...(segments.length ? segments : ['index.html'])));
    } catch {
      return plain(404, 'Not found.');
    }
    if (!file.startsWith(root + sep)) return plain(403, 'Forbidden.');
    const response = await net.fetch(pathToFileURL(file).toString());
    if (extname(file) !== '.html') return response;
    const headers = new Headers(response.headers);
    headers.set('Content-Security-Policy', contentSecurityPolicy([`${imageScheme}:`]));
    return new Response(response.body, { status: response.status, headers });
  });
}

export function handleImageScheme(home: string): void {
  protocol.handle(imageScheme, async (request) => {
    const url = new URL(request.url);
    if (url.host !== 'studio') return plain(404, 'Not found.');
    try {
      const image = resolveImageFile(home, decodeURIComponent(url.pathname.slice(1)));
      return net.fetch(pathToFileURL(image.file).toString());
    } catch (error) {
      const data = toErrorData(error);
      return plain(data.code === 'not-found' ? 404 : 403, data.message);
    }
  });
}
