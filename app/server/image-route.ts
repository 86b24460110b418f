// GET /media/<ImageRef.path, below the studio home>: the studio's PNGs and thumbnails, nothing else
// (app/api/image-file.ts decides what may be read). `?download=1` offers the file as a download.
import type { ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { toErrorData } from '../api/api-error.ts';
import { resolveImageFile } from '../api/image-file.ts';
import { sendText, statusOf, streamFile } from './http-replies.ts';

export const imageRoutePrefix = '/media/';

export function serveImage(home: string, url: URL, response: ServerResponse): void {
  let image;
  try {
    // Decoded once; resolveImageFile judges the decoded path, so an encoded '../' (%2E%2E%2F) is refused there.
    image = resolveImageFile(home, decodeURIComponent(url.pathname.slice(imageRoutePrefix.length)));
  } catch (error) {
    const data = toErrorData(error);
    return sendText(response, data.code === 'internal' ? 400 : statusOf(data), data.message);
  }
  const headers: Record<string, string | number> = {
    'Content-Type': image.contentType,
    'Content-Length': image.size,
    'Cache-Control': 'private, max-age=3600',
  };
  if (url.searchParams.get('download') === '1') headers['Content-Disposition'] = `attachment; filename="${basename(image.file).replace(/"/g, '')}"`;
  response.writeHead(200, headers);
  streamFile(response, image.file);
}
