// Where generated images and their thumbnails live: `images/<YYYY-MM-DD>/<id>.png` and
// `thumbnails/<YYYY-MM-DD>/<id>.png` under the studio home (local date of creation). Both files are
// written atomically; when the second fails the first is removed, so a save leaves both or nothing.
// Paths handed out are relative to the studio home and '/'-separated, so the library survives moving
// the home folder and reads the same on every platform.
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { diskFullError, isDiskFull, writeFileAtomic } from '../common/atomic-write.ts';
import { UserError } from '../common/errors.ts';
import { studioPaths } from '../common/paths.ts';

/** Writes a whole file or nothing (the default is writeFileAtomic); tests inject failing ones. */
export type FileWriter = (target: string, bytes: Uint8Array) => void;

export interface StoredFiles {
  readonly imagePath: string;
  readonly thumbnailPath: string;
}

export interface ImageStoreOptions {
  readonly writeFile?: FileWriter;
}

function dateFolder(createdAt: number): string {
  const date = new Date(createdAt);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// Makes a rename durable: POSIX needs the directory entry flushed too. Windows cannot open a
// directory for fsync, and a killed process (as opposed to lost power) needs none of this.
function syncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(directory, 'r');
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export class ImageStore {
  readonly home: string;
  readonly imagesDir: string;
  readonly thumbnailsDir: string;
  readonly #writeFile: FileWriter;

  constructor(home: string, options: ImageStoreOptions = {}) {
    const paths = studioPaths(home);
    this.home = home;
    this.imagesDir = paths.images;
    this.thumbnailsDir = paths.thumbnails;
    this.#writeFile = options.writeFile ?? ((target, bytes) => writeFileAtomic(target, bytes));
  }

  /** The relative paths an image with this id and creation time is stored at. */
  /** Where an image goes; imported JPEG and WebP files keep their format (`extension` 'jpg' or 'webp'). */
  pathsFor(id: string, createdAt: number, extension: 'png' | 'jpg' | 'webp' = 'png'): StoredFiles {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new UserError('invalid-argument', `"${id}" cannot name an image file.`);
    const folder = dateFolder(createdAt);
    return { imagePath: `images/${folder}/${id}.${extension}`, thumbnailPath: `thumbnails/${folder}/${id}.png` };
  }

  /** Absolute path of a stored relative path; refuses paths that would leave the studio home. */
  absolute(relativePath: string): string {
    const path = normalize(join(this.home, ...relativePath.split('/')));
    const inside = relative(this.home, path);
    if (isAbsolute(relativePath) || inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
      throw new UserError('invalid-argument', `${relativePath} is not a path inside the studio folder.`);
    }
    return path;
  }

  /** The relative form of an absolute path inside the studio home, or undefined when outside it. */
  relative(absolutePath: string): string | undefined {
    const inside = relative(this.home, absolutePath);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return undefined;
    return inside.split(sep).join('/');
  }

  /**
   * Writes an image and its thumbnail. Throws UserError('disk-full') when space runs out, after
   * removing whatever part was written.
   */
  save(id: string, createdAt: number, image: Uint8Array, thumbnail: Uint8Array, extension: 'png' | 'jpg' | 'webp' = 'png'): StoredFiles {
    const files = this.pathsFor(id, createdAt, extension);
    const written = this.#write(files.imagePath, image);
    try {
      this.#write(files.thumbnailPath, thumbnail);
    } catch (error) {
      rmSync(written, { force: true });
      throw error;
    }
    return files;
  }

  /** Writes (or rewrites) only the thumbnail, for an image already in place. */
  saveThumbnail(id: string, createdAt: number, thumbnail: Uint8Array): string {
    const { thumbnailPath } = this.pathsFor(id, createdAt);
    this.#write(thumbnailPath, thumbnail);
    return thumbnailPath;
  }

  /** Removes stored files; missing ones are fine. */
  remove(...relativePaths: (string | null)[]): void {
    for (const path of relativePaths) if (path !== null) rmSync(this.absolute(path), { force: true });
  }

  #write(relativePath: string, bytes: Uint8Array): string {
    const target = this.absolute(relativePath);
    const directory = join(target, '..');
    try {
      mkdirSync(directory, { recursive: true });
      this.#writeFile(target, bytes);
    } catch (error) {
      if (isDiskFull(error)) throw diskFullError(target);
      throw error;
    }
    syncDirectory(directory);
    return target;
  }
}
