// Which files the UI may load as images: only image files below the studio home, named by a relative
// '/'-separated path. Used by web mode's /images route and the desktop shell's afa-image:// protocol,
// so neither can be talked into reading another file (library.sqlite, ../../etc/passwd, a symlink out).
import { realpathSync, statSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import { ApiError } from './api-error.ts';

const contentTypes: ReadonlyMap<string, string> = new Map([
  ['.png', 'image/png'],
  ['.jpg', 'image/jpeg'],
  ['.jpeg', 'image/jpeg'],
  ['.webp', 'image/webp'],
]);

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
  const contentType = contentTypes.get(extname(relativePath).toLowerCase());
  if (!contentType) throw new ApiError('forbidden', 'Only images (.png, .jpg, .webp) are served.');
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
  return { file: realFile, contentType, size: stats.size };
}
