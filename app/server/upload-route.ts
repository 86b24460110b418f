// POST /upload?name=<file name>: streams the body (a checkpoint, possibly gigabytes) to
// `<home>/tmp/uploads/<id>/<name>` and answers `{ uploadId, fileName }` for models.import or
// history.importImages. The file appears under its name only when complete; an aborted upload leaves
// nothing behind.
//
// Limits (app/api/uploads.ts): each upload by its kind (a checkpoint's plausible size, an image's), and
// all uploads on disk together. A declared Content-Length over a limit is refused before a byte is read;
// a body that passes a limit while streaming is cut there, its partial file removed; both answer 413.
// Uploads are removed by the import that uses them (finished or failed) and when the server stops.
import { createWriteStream, mkdirSync, renameSync, rmSync, statfsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ApiErrorData } from '../api/contract.ts';
import { isDiskFull } from '../common/atomic-write.ts';
import { newUploadId, safeFileName, uploadExtensions, uploadFolder, uploadKind, uploadsDirectory, uploadsOnDisk, type UploadLimits } from '../api/uploads.ts';
import { sendError, sendJson } from './http-replies.ts';
import { formatBytes } from '../common/format-bytes.ts';
import { declaredLength, refuseBody } from './request-body.ts';

export const uploadRoute = '/upload';

/** Space left free on the disk after an upload, so the import that follows can still write its model. */
const diskMarginBytes = 1024 ** 3;

class TooLarge extends Error {
  constructor(readonly error: ApiErrorData) {
    super(error.message);
  }
}

/** Counts the bytes going through and stops the stream once `allowed(bytes)` returns a refusal. */
class ByteLimit extends Transform {
  bytes = 0;
  constructor(private readonly check: (bytes: number) => ApiErrorData | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    const refusal = this.check(this.bytes);
    done(refusal ? new TooLarge(refusal) : null, chunk);
  }
}

function tooLarge(message: string, hint: string): ApiErrorData {
  return { name: 'ApiError', code: 'too-large', message, hint };
}

/** The uploads of one server: its limits, and the bytes of the uploads still streaming in. */
export class UploadReceiver {
  readonly #home: string;
  readonly #limits: UploadLimits;
  /** Upload id → bytes received so far (or declared, when larger), for the total while it streams. */
  readonly #streaming = new Map<string, number>();

  constructor(home: string, limits: UploadLimits) {
    this.#home = home;
    this.#limits = limits;
  }

  /** Removes every upload (at start and at shutdown: an upload that never became an import is of no use). */
  removeAll(): void {
    rmSync(uploadsDirectory(this.#home), { recursive: true, force: true });
  }

  async handle(url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') return sendError(response, { name: 'ApiError', code: 'bad-request', message: 'Uploads are POST requests.' });
    const fileName = safeFileName(url.searchParams.get('name') ?? '');
    const kind = uploadKind(fileName);
    if (!kind) {
      return refuseBody(request, response, {
        name: 'ApiError',
        code: 'unsupported',
        message: `${fileName} is neither a checkpoint nor an image.`,
        hint: `The studio imports ${uploadExtensions.join(', ')} files.`,
      });
    }
    const limit = this.#limits[kind];
    const what = kind === 'checkpoint' ? 'A checkpoint' : 'An image';
    const overKind = () => tooLarge(`${what} upload may be at most ${formatBytes(limit)}; ${fileName} is larger.`, kind === 'checkpoint' ? 'SD 1.x checkpoints are 2–7.2 GiB; check that this is one.' : 'Import the studio\'s own PNGs.');
    const finishedBytes = uploadsOnDisk(this.#home, new Set(this.#streaming.keys()));
    const streamingBytes = () => [...this.#streaming.values()].reduce((sum, bytes) => sum + bytes, 0);
    const overTotal = (bytes: number) =>
      tooLarge(
        `Uploads waiting for import may take ${formatBytes(this.#limits.total)} in all; ${formatBytes(finishedBytes + streamingBytes())} are in use and ${fileName} needs ${formatBytes(bytes)}.`,
        'Wait for the imports running now to finish, then upload again.',
      );
    const declared = declaredLength(request);
    if (declared !== undefined) {
      if (declared > limit) return refuseBody(request, response, overKind());
      if (finishedBytes + streamingBytes() + declared > this.#limits.total) return refuseBody(request, response, overTotal(declared));
      if (declared + diskMarginBytes > freeDiskBytes(this.#home)) {
        return refuseBody(request, response, { name: 'UserError', code: 'disk-full', message: `Not enough disk space for ${fileName} (${formatBytes(declared)}).`, hint: 'Free some space and try again.' });
      }
    }
    const uploadId = newUploadId();
    const folder = uploadFolder(this.#home, uploadId);
    mkdirSync(folder, { recursive: true });
    const temp = join(folder, `.tmp-${fileName}`);
    this.#streaming.set(uploadId, declared ?? 0);
    const counter = new ByteLimit((bytes) => {
      if (bytes > limit) return overKind();
      this.#streaming.set(uploadId, Math.max(bytes, declared ?? 0));
      if (finishedBytes + streamingBytes() > this.#limits.total) return overTotal(bytes);
      return undefined;
    });
    // The request is piped in rather than made part of the pipeline: a pipeline would destroy it on the
    // limit's error, and the client would see a reset connection instead of the 413.
    const written = pipeline(counter, createWriteStream(temp, { flags: 'wx' }));
    const interrupted = () => {
      if (!request.complete) counter.destroy(new Error('The upload was interrupted.'));
    };
    request.once('close', interrupted);
    request.pipe(counter);
    try {
      await written;
      renameSync(temp, join(folder, fileName));
    } catch (error) {
      request.unpipe(counter);
      rmSync(folder, { recursive: true, force: true });
      if (error instanceof TooLarge) return refuseBody(request, response, error.error);
      if (response.destroyed) return;
      return isDiskFull(error)
        ? sendError(response, { name: 'UserError', code: 'disk-full', message: 'Not enough disk space for the upload.', hint: 'Free some space and try again.' })
        : sendError(response, { name: 'ApiError', code: 'bad-request', message: 'The upload was interrupted.' });
    } finally {
      request.off('close', interrupted);
      this.#streaming.delete(uploadId);
    }
    sendJson(response, 200, { uploadId, fileName });
  }
}

function freeDiskBytes(home: string): number {
  try {
    mkdirSync(home, { recursive: true });
    const stats = statfsSync(home);
    return stats.bavail * stats.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
