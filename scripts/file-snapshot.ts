// Files saved byte for byte and put back later, exactly: a file that did not exist is removed again.
// scripts/dist.ts keeps node_modules' better-sqlite3 build through electron-builder's in-place rebuild
// (which starts by deleting the build folder, so restoring recreates folders too).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Content per path; `undefined`: the file did not exist. */
export type FileSnapshot = ReadonlyMap<string, Buffer | undefined>;

export function takeSnapshot(files: readonly string[]): FileSnapshot {
  return new Map(files.map((file) => [file, existsSync(file) ? readFileSync(file) : undefined]));
}

export function restoreSnapshot(snapshot: FileSnapshot): void {
  for (const [file, content] of snapshot) {
    if (content === undefined) {
      rmSync(file, { force: true });
      continue;
    }
    mkdirSync(dirname(file), { recursive: true });
    // A new file rather than writing into the old one: node-gyp hard-links build/Release/*.node to its
    // obj.target/ copy, which must not change under it.
    writeFileSync(`${file}.restoring`, content);
    renameSync(`${file}.restoring`, file);
  }
}
