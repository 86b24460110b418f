// The relaunch that gives `afa generate` and `afa train` the engine's malloc settings on Linux: which
// invocations are relaunched, and the parent's part: the child's environment and exit status, and a
// signal sent to the parent alone reaching the child once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ENGINE_COMMANDS, engineRelaunchEnvironment, RELAUNCHED } from '../../app/cli/engine-relaunch.ts';
import { GLIBC_TUNABLES, MMAP_THRESHOLD_TUNABLE } from '../../app/runtime/engine-memory.ts';

const relaunchModule = fileURLToPath(new URL('../../app/cli/engine-relaunch.ts', import.meta.url));

test('generate and train are relaunched on Linux with the tunables; nothing else, and never twice', () => {
  const env = { PATH: '/usr/bin' };
  assert.deepEqual(ENGINE_COMMANDS, ['generate', 'train']);
  for (const name of ENGINE_COMMANDS) {
    const relaunched = engineRelaunchEnvironment([name, '-m', 'x'], env, 'linux');
    assert.ok(relaunched, name);
    assert.match(relaunched[GLIBC_TUNABLES] ?? '', new RegExp(`${MMAP_THRESHOLD_TUNABLE}=`));
    assert.equal(relaunched.PATH, '/usr/bin');
    assert.equal(relaunched[RELAUNCHED], '1');
    // The child runs the command itself, even where glibc left only the first tunable visible in its
    // environment (2.36 does).
    assert.equal(engineRelaunchEnvironment([name, '-m', 'x'], relaunched, 'linux'), undefined);
    assert.equal(engineRelaunchEnvironment([name, '-m', 'x'], { ...relaunched, [GLIBC_TUNABLES]: 'glibc.malloc.hugetlb=1' }, 'linux'), undefined);
    // Tunables the user set in full: nothing to add, no relaunch.
    assert.equal(engineRelaunchEnvironment([name], { [GLIBC_TUNABLES]: 'glibc.malloc.hugetlb=0:glibc.malloc.mmap_threshold=65536' }, 'linux'), undefined);
    assert.equal(engineRelaunchEnvironment([name, '--help'], env, 'linux'), undefined);
    assert.equal(engineRelaunchEnvironment([name, '-h'], env, 'linux'), undefined);
    assert.equal(engineRelaunchEnvironment([name], env, 'darwin'), undefined);
    assert.equal(engineRelaunchEnvironment([name], { ...env, AFA_MALLOC_TUNING: '0' }, 'linux'), undefined);
  }
  for (const argv of [[], ['models'], ['import', 'x'], ['serve'], ['--help'], ['help', 'generate']]) {
    assert.equal(engineRelaunchEnvironment(argv, env, 'linux'), undefined, argv.join(' '));
  }
  // A user's own tunables are kept, and only the missing ones are added.
  const own = engineRelaunchEnvironment(['generate'], { [GLIBC_TUNABLES]: 'glibc.malloc.arena_max=2' }, 'linux');
  assert.match(own?.[GLIBC_TUNABLES] ?? '', /^glibc\.malloc\.arena_max=2:/);
});

/** Runs a parent that relaunches `child` (node code) through runRelaunched; resolves with its status and output. */
function relaunch(child: string, env: NodeJS.ProcessEnv, whileRunning?: (parentPid: number, output: () => string) => void): Promise<{ status: number | null; output: string }> {
  const parent = [
    `const { runRelaunched } = await import(${JSON.stringify(relaunchModule)});`,
    `process.exitCode = await runRelaunched(process.execPath, ['-e', ${JSON.stringify(child)}], { ...process.env, ...${JSON.stringify(env)} });`,
  ].join('\n');
  const process_ = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', parent], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  process_.stdout.setEncoding('utf8');
  process_.stderr.setEncoding('utf8');
  process_.stdout.on('data', (chunk: string) => {
    output += chunk;
    whileRunning?.(process_.pid!, () => output);
  });
  process_.stderr.on('data', (chunk: string) => (output += chunk));
  const timer = setTimeout(() => process_.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    process_.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    }),
  );
}

test('the relaunched child gets the environment and the streams, and its exit status is the parent\'s', async () => {
  const { status, output } = await relaunch(`console.log('tunables ' + process.env.GLIBC_TUNABLES); process.exitCode = 3;`, { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=1048576' });
  assert.equal(status, 3, output);
  assert.match(output, /tunables glibc\.malloc\.mmap_threshold=1048576/);
  // A child ended by a signal: 128 + its number, as a shell reports it.
  const killed = await relaunch(`process.kill(process.pid, 'SIGKILL');`, {});
  assert.equal(killed.status, 128 + 9, killed.output);
});

test('a SIGINT sent to the parent alone reaches the child once, and the child decides how to stop', async () => {
  // The child counts the SIGINTs it gets for 300 ms after the first, then exits with 10 + the count.
  const child = [
    `let count = 0;`,
    `process.on('SIGINT', () => { if (count++ === 0) setTimeout(() => process.exit(10 + count), 300); });`,
    `setInterval(() => {}, 1000);`,
    `console.log('ready');`,
  ].join('\n');
  let sent = false;
  const { status, output } = await relaunch(child, {}, (parentPid, text) => {
    if (!sent && text().includes('ready')) {
      sent = true;
      process.kill(parentPid, 'SIGINT');
    }
  });
  assert.equal(status, 11, output);
});
