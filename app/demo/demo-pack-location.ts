// Where the shipped demo pack is, for the three places the studio starts (the desktop app's main process,
// `afa serve`, the `afa` CLI). Kept free of other imports: the Electron main bundle includes it.
//
// The pack is `<repository>/demo/pack/`. This file is two folders below the root both as source
// (app/demo/) and inside the built bundles (dist/main/*.cjs, where import.meta.url is the bundle's own
// URL), so one relative URL finds it from either. A packaged app keeps it outside app.asar
// (electron-builder.yml `asarUnpack`), in `app.asar.unpacked/demo/pack`, because the importer streams and
// hashes the files with plain file handles.
//
// AFA_STUDIO_DEMO_PACK overrides it: a folder to install instead, or `none` for no demo. Tests that start
// the studio as a process set `none` (or their own small pack), so they neither pay for the install nor
// depend on the shipped pack; a person's run never sees that variable unless they set it.
import { existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEMO_PACK_VARIABLE = 'AFA_STUDIO_DEMO_PACK';

/** The pack folder shipped next to the code at `moduleUrl` (this file's, or a bundle's). */
export function shippedDemoPackDir(moduleUrl: string = import.meta.url): string {
  const packed = fileURLToPath(new URL('../../demo/pack', moduleUrl));
  const asar = `${sep}app.asar${sep}`;
  if (packed.includes(asar)) {
    const unpacked = packed.replace(asar, `${sep}app.asar.unpacked${sep}`);
    if (existsSync(unpacked)) return unpacked;
  }
  return packed;
}

/**
 * The demo pack this run installs on a fresh home: AFA_STUDIO_DEMO_PACK when set (`none` or empty: no
 * demo), else the shipped pack when this build has one (a build without it: null, and nothing breaks).
 */
export function demoPackDirectory(env: NodeJS.ProcessEnv = process.env, moduleUrl?: string): string | null {
  const chosen = env[DEMO_PACK_VARIABLE];
  if (chosen !== undefined) return chosen.trim() === '' || chosen.trim().toLowerCase() === 'none' ? null : resolve(chosen);
  const shipped = shippedDemoPackDir(moduleUrl);
  return existsSync(join(shipped, 'manifest.json')) ? shipped : null;
}
