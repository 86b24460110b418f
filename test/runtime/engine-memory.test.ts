// The engine process's glibc tunables: huge pages and a fixed mmap threshold added on Linux, the user's
// own tunables kept; and glibc honours the threshold (a large buffer becomes a mapping of its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { engineMemoryEnvironment } from '../../app/runtime/engine-memory.ts';

const BOTH = 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576';

test('adds glibc.malloc.hugetlb=1 and a fixed mmap threshold on Linux, after the tunables already set', () => {
  assert.equal(engineMemoryEnvironment({ PATH: '/bin' }, 'linux').GLIBC_TUNABLES, BOTH);
  assert.equal(engineMemoryEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, 'linux').GLIBC_TUNABLES, `glibc.malloc.arena_max=2:${BOTH}`);
  assert.equal(engineMemoryEnvironment({ PATH: '/bin' }, 'linux').PATH, '/bin');
});

test("keeps the user's own values, AFA_HUGE_PAGES=0, AFA_MALLOC_TUNING=0 and other platforms as they are", () => {
  const own = { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0:glibc.malloc.mmap_threshold=65536' };
  assert.deepEqual(engineMemoryEnvironment(own, 'linux'), own);
  assert.equal(engineMemoryEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }, 'linux').GLIBC_TUNABLES, 'glibc.malloc.hugetlb=0:glibc.malloc.mmap_threshold=1048576');
  assert.equal(engineMemoryEnvironment({ AFA_HUGE_PAGES: '0' }, 'linux').GLIBC_TUNABLES, 'glibc.malloc.mmap_threshold=1048576');
  assert.equal(engineMemoryEnvironment({ AFA_MALLOC_TUNING: '0' }, 'linux').GLIBC_TUNABLES, undefined);
  for (const platform of ['darwin', 'win32'] as const) assert.equal(engineMemoryEnvironment({}, platform).GLIBC_TUNABLES, undefined);
});

// A child frees a 24 MiB buffer (by default glibc then raises its mmap threshold to that size) and
// allocates four 8 MiB ones; it answers by how many MiB its brk heap grew. Under the fixed threshold they
// are mappings of their own and the heap does not grow. Huge pages are left out: they change where
// glibc places chunks on their own.
const HEAP_GROWTH = `
const fs = require('fs');
const heap = () => { const line = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => l.endsWith('[heap]'));
  if (!line) return 0; const [a, b] = line.split(' ')[0].split('-').map((h) => parseInt(h, 16)); return b - a; };
let big = Buffer.alloc(24 << 20, 1); big = null; globalThis.gc();
const before = heap(); const kept = []; for (let i = 0; i < 4; i++) kept.push(Buffer.alloc(8 << 20, 1));
console.log((heap() - before) >> 20);`;

const glibc = process.platform === 'linux' && Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);

test('glibc takes the threshold: large buffers stop coming from the heap', { skip: glibc ? false : 'glibc on Linux only' }, () => {
  const growth = (env: NodeJS.ProcessEnv) => {
    const result = spawnSync(process.execPath, ['--expose-gc', '-e', HEAP_GROWTH], { env: { ...env, GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? '' }, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return Number(result.stdout.trim());
  };
  const base = { ...process.env, GLIBC_TUNABLES: undefined };
  assert.ok(growth(engineMemoryEnvironment({ ...base, AFA_MALLOC_TUNING: '0' })) >= 32, 'without the tunables the 8 MiB buffers come from the heap');
  assert.equal(growth(engineMemoryEnvironment({ ...base, AFA_HUGE_PAGES: '0' })), 0);
});

test('a process started with both tunables runs', () => {
  const result = spawnSync(process.execPath, ['-e', 'console.log(Buffer.alloc(64 << 20).length)'], { env: engineMemoryEnvironment(process.env), encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), String(64 << 20));
});
