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
// glibc places chunks on their own. V8 frees a collected buffer's memory on a background thread, so the
// child waits until the buffer's mapping is gone from /proc/self/maps before it allocates (on a busy
// machine the free could otherwise land after the first allocations).
const HEAP_GROWTH = `
const fs = require('fs');
const maps = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter(Boolean);
const ranges = () => maps().map((l) => l.split(' ')[0]);
const span = (range) => { const [a, b] = range.split('-').map((h) => parseInt(h, 16)); return b - a; };
const heap = () => { const line = maps().find((l) => l.endsWith('[heap]')); return line ? span(line.split(' ')[0]) : 0; };
const seen = new Set(ranges());
let big = Buffer.alloc(24 << 20, 1);
const mapping = ranges().find((range) => !seen.has(range) && span(range) >= 24 << 20);
if (!mapping) { console.error('the 24 MiB buffer has no mapping of its own'); process.exit(3); }
big = null;
(async () => {
  const deadline = Date.now() + 30000;
  while (ranges().includes(mapping)) {
    if (Date.now() > deadline) { console.error('the 24 MiB buffer was not freed within 30 s'); process.exit(3); }
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const before = heap(); const kept = []; for (let i = 0; i < 4; i++) kept.push(Buffer.alloc(8 << 20, 1));
  console.log((heap() - before) >> 20);
})();`;

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
