// Which files the UI may load as images: only image files below the studio home, named by a relative
// '/'-separated path. Used by web mode's /images route and the desktop shell's afa-image:// protocol,
// so neither can be talked into reading another file (library.sqlite, ../../etc/passwd, a symlink out).
import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import { ApiError } from './api-error.ts';

const contentTypes: ReadonlyMap<string, string> = new Map([
  ['.png', 'image/png'],
  ['.jpg', 'image/jpeg'],
  ['.jpeg', 'image/jpeg'],
  ['.webp', 'image/webp'],
]);

/**
 * The image format of the file's first bytes (PNG signature, JPEG SOI marker, RIFF....WEBP), or
 * undefined: a name is only a claim, and a '.png' symlink may lead to the database.
 */
function sniffContentType(file: string): string | undefined {
  const head = Buffer.alloc(12);
  const descriptor = openSync(file, 'r');
  let read: number;
  try {
    read = readSync(descriptor, head, 0, head.length, 0);
  } finally {
    closeSync(descriptor);
  }
  const bytes = head.subarray(0, read);
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

export interface ImageFile {
  /** Absolute real path. */
  readonly file: string;
  readonly contentType: string;
  readonly size: number;
}

/** Resolves an `ImageRef.path` (already URL-decoded) to a file inside `home`, or throws forbidden/not-found. */
export function resolveImageFile(home: string, relativePath: string): ImageFile {
  const segments = relativePath.split('/');
  const suspicious =
    relativePath.length === 0 ||
    relativePath.length > 1024 ||
    relativePath.includes('\\') ||
    relativePath.includes('\0') ||
    relativePath.includes(':') ||
    segments.some((segment) => segment === '' || segment === '.' || segment === '..');
  if (suspicious) throw new ApiError('forbidden', `Not an image path of the studio: ${JSON.stringify(relativePath.slice(0, 200))}.`);
  const onlyImages = 'Only images (.png, .jpg, .webp) are served.';
  if (!contentTypes.has(extname(relativePath).toLowerCase())) throw new ApiError('forbidden', onlyImages);
  let realHome: string;
  let realFile: string;
  try {
    realHome = realpathSync(home);
    realFile = realpathSync(join(home, ...segments));
  } catch {
    throw new ApiError('not-found', `No image ${relativePath}.`);
  }
  // A symlink inside the home may point anywhere; what counts is where the file really is.
  if (!realFile.startsWith(realHome + sep)) throw new ApiError('forbidden', 'The image is outside the studio data directory.');
  const stats = statSync(realFile);
  if (!stats.isFile()) throw new ApiError('not-found', `No image ${relativePath}.`);
  // The real file decides, not the name asked for: its own name must be an image's, and its contents say
  // which format it is (a PNG saved as .jpg is still served, as image/png).
  const contentType = contentTypes.has(extname(realFile).toLowerCase()) ? sniffContentType(realFile) : undefined;
  if (!contentType) throw new ApiError('forbidden', onlyImages);
  return { file: realFile, contentType, size: stats.size };
}
