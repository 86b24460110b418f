// `afa train` as a person runs it: the real bin in child processes, the golden tiny experts imported
// into a temporary home, new aggregators on a generated dataset; Ctrl+C at step 2 saves a checkpoint
// and exits 130, `afa train resume` finishes the run and imports its aggregators; list, show, delete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { goldenExpertFolders, scratchDir } from '../ensemble/golden-experts.ts';
import { repoRoot } from '../pipeline/tiny-model.ts';
import { writeGeneratedDataset } from '../datasets/generated-dataset.ts';

const BIN = join(repoRoot, 'bin', 'afa.js');

function afa(home: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, AFA_STUDIO_HOME: home, AFA_STUDIO_DEMO_PACK: 'none' }, timeout: 300_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(run: ReturnType<typeof afa>): Record<string, unknown> {
  assert.equal(run.status, 0, `exit ${run.status}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

/** Runs `afa …` and sends SIGINT once stderr shows a step event with `step`. */
function interruptedAt(home: string, step: number, args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, AFA_STUDIO_HOME: home, AFA_STUDIO_DEMO_PACK: 'none' } });
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`afa train did not reach step ${step}: ${stderr}`));
    }, 300_000);
    let interrupted = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // One Ctrl+C: a second one would exit at once without the checkpoint (processIo).
      if (!interrupted && stderr.includes(`"kind":"step","step":${step},`)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

test('afa train: new aggregators, Ctrl+C saves a checkpoint (exit 130), resume finishes and imports the set', async (t) => {
  const home = scratchDir('afa-cli-train-');
  t.after(() => rmSync(home, { recursive: true, force: true }));
  for (const folder of goldenExpertFolders(home)) ok(afa(home, 'import', folder, '--json', '--progress', 'none'));
  const data = await writeGeneratedDataset(join(home, 'data'), 8);

  const missing = afa(home, 'train', '--models', 'expert1,expert2', '--data', join(home, 'nowhere'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /does not exist/);

  const args = ['train', '--models', 'expert1,expert2,expert3', '--data', data, '--resolution', '64', '--steps', '4', '--batch', '2', '--validation-share', '0.25', '--validate-every', '0', '--checkpoint-every', '10', '--progress', 'json'];
  const stopped = await interruptedAt(home, 2, args);
  assert.equal(stopped.status, 130, stopped.stderr);
  const listed = ok(afa(home, 'train', 'list', '--json')).runs as { id: string; status: string }[];
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.status, 'cancelled');
  const runId = listed[0]!.id;
  assert.ok(existsSync(join(home, 'training', runId, 'checkpoints')), 'Ctrl+C wrote a checkpoint');

  const resumed = ok(afa(home, 'train', 'resume', runId, '--json'));
  assert.equal(resumed.steps, 4);
  const aggregatorId = resumed.aggregatorId as string;
  assert.match(aggregatorId, /^agg-/);
  const sets = ok(afa(home, 'aggregators', '--json')).aggregators as { id: string }[];
  assert.ok(sets.some((set) => set.id === aggregatorId));
  const shown = ok(afa(home, 'train', 'show', runId, '--json')).run as { status: string; metrics: { step: number }[] };
  assert.equal(shown.status, 'done');
  assert.deepEqual(shown.metrics.filter((m) => 'loss' in m).map((m) => m.step), [1, 2, 3, 4]);
  assert.match(afa(home, 'train', 'list').stdout, /done .*step 4, loss/);
  ok(afa(home, 'train', 'delete', runId, '--json'));
  assert.equal(existsSync(join(home, 'training', runId)), false);
  assert.equal(afa(home, 'train', 'show', runId).status, 2);
});
