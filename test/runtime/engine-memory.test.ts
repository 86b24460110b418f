// The engine process's glibc tunables: huge pages added on Linux, the user's own tunables kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { engineMemoryEnvironment } from '../../app/runtime/engine-memory.ts';

test('adds glibc.malloc.hugetlb=1 on Linux, after the tunables already set', () => {
  assert.equal(engineMemoryEnvironment({ PATH: '/bin' }, 'linux').GLIBC_TUNABLES, 'glibc.malloc.hugetlb=1');
  assert.equal(engineMemoryEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, 'linux').GLIBC_TUNABLES, 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
  assert.equal(engineMemoryEnvironment({ PATH: '/bin' }, 'linux').PATH, '/bin');
});

test("keeps the user's own hugetlb value, AFA_HUGE_PAGES=0, and other platforms as they are", () => {
  const own = { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2' };
  assert.deepEqual(engineMemoryEnvironment(own, 'linux'), own);
  assert.equal(engineMemoryEnvironment({ AFA_HUGE_PAGES: '0' }, 'linux').GLIBC_TUNABLES, undefined);
  for (const platform of ['darwin', 'win32'] as const) assert.equal(engineMemoryEnvironment({}, platform).GLIBC_TUNABLES, undefined);
});

test('a process started with it runs (glibc accepts the tunable or ignores it)', () => {
  const result = spawnSync(process.execPath, ['-e', 'console.log(Buffer.alloc(64 << 20).length)'], { env: engineMemoryEnvironment(process.env), encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), String(64 << 20));
});
