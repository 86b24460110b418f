// The Vulkan loader search: LD_LIBRARY_PATH, the ld.so cache, the default folders; off Linux, always found.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { VULKAN_LOADER, vulkanLoaderFound } from '../../app/runtime/vulkan-loader.ts';
import { temporaryDirectory } from '../onnx/run-graph.ts';

const root = temporaryDirectory('afa-vulkan-');
after(() => rmSync(root, { recursive: true, force: true }));

function folder(name: string, withLoader: boolean): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  if (withLoader) writeFileSync(join(dir, VULKAN_LOADER), '');
  return dir;
}

function cache(name: string, names: readonly string[]): string {
  const file = join(root, name);
  // As ld.so.cache holds them: NUL-terminated names among binary data.
  writeFileSync(file, Buffer.concat([Buffer.from([0x6c, 0x64, 0x2e, 0x73, 0x6f, 0, 1, 2]), ...names.map((n) => Buffer.from(`${n}\0`))]));
  return file;
}

test('found through LD_LIBRARY_PATH, the ld.so cache or a default folder', () => {
  const empty = folder('empty', false);
  const loader = folder('loader', true);
  const noCache = join(root, 'missing.cache');
  const none = { platform: 'linux' as const, cacheFile: noCache, defaultDirs: [empty] };
  assert.equal(vulkanLoaderFound({ ...none, env: {} }), false);
  assert.equal(vulkanLoaderFound({ ...none, env: { LD_LIBRARY_PATH: `${empty}::${loader}` } }), true);
  assert.equal(vulkanLoaderFound({ ...none, env: {}, defaultDirs: [empty, loader] }), true);
  assert.equal(vulkanLoaderFound({ ...none, env: {}, cacheFile: cache('with.cache', ['libc.so.6', VULKAN_LOADER]) }), true);
  // A longer name that starts with the loader's is not the loader.
  assert.equal(vulkanLoaderFound({ ...none, env: {}, cacheFile: cache('without.cache', ['libc.so.6', `${VULKAN_LOADER}.2`, 'libvulkan.so']) }), false);
});

test('off Linux WebGPU needs no Vulkan loader', () => {
  for (const platform of ['win32', 'darwin'] as const) assert.equal(vulkanLoaderFound({ platform, env: {}, defaultDirs: [] }), true);
});
