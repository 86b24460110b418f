// A training process really killed: a child process runs the tiny training run of tiny-training-run.ts
// (two golden tiny experts, 6 steps, checkpoints every 2, a validation with a sample image every 3) and
// is killed with SIGKILL in the middle of writing its second checkpoint — files written into the
// temporary folder, not yet renamed. The run folder keeps the first checkpoint intact; resumed (in this
// process), the run ends bit-identical to an uninterrupted one: training and validation losses, the
// aggregator weights, the result file and the sample images.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAfaTrainingGraph } from '../../app/training/afa-training-graph.ts';
import { runAfaTrainingJob } from '../../app/training/afa-training-job.ts';
import { checkpointsDir, listCheckpoints } from '../../app/training/training-checkpoint.ts';
import { TrainingSession } from '../../app/training/training-session.ts';
import { listSamples, samplesDir } from '../../app/training/validation-samples.ts';
import { goldenExpertFolders, scratchDir } from '../ensemble/golden-experts.ts';
import { writeGeneratedDataset } from '../datasets/generated-dataset.ts';
import { openTinyRun, SESSION, tinyExperts, type TinyRun } from './tiny-training-run.ts';

const childScript = fileURLToPath(new URL('./scripts/train-until-killed.ts', import.meta.url));
const scratch = scratchDir('afa-killed-run-');
let run: TinyRun;
let session: TrainingSession;
let killed: Promise<{ stdout: string; signal: NodeJS.Signals | null }>;

/** Starts the child and SIGKILLs it once it says it is committing checkpoint number `k`. */
function runUntilKilled(folders: readonly string[], runDir: string, k: number): Promise<{ stdout: string; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', childScript, scratch, folders.join(','), runDir, String(k)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('committing ')) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve({ stdout, signal }) : reject(new Error(`the child exited with ${code}: ${stderr}`))));
  });
}

before(async () => {
  // Experts 1 and 2 of the golden three.
  const folders = goldenExpertFolders(scratch).slice(0, 2);
  await writeGeneratedDataset(join(scratch, 'data'), 8);
  // The child compiles its own training graph meanwhile (the two processes share the 2 cores).
  killed = runUntilKilled(folders, 'killed', 2);
  run = await openTinyRun(scratch, folders, join(scratch, 'parent'));
  const built = buildAfaTrainingGraph(tinyExperts(), run.job('').aggregators, { batch: 2, height: 8, width: 8, tokens: 77 }, { recompute: 'none' });
  session = await TrainingSession.create(built, { dir: join(scratch, 'graph'), session: SESSION });
});

after(async () => {
  await session?.release();
  await run?.release();
  rmSync(scratch, { recursive: true, force: true });
});

test('killed with SIGKILL in the middle of a checkpoint, a run resumes and ends bit-identical to an uninterrupted one', async () => {
  const { stdout } = await killed;
  assert.match(stdout, /step 4\ncommitting .*\.tmp-step-4-/);
  const runDir = join(scratch, 'killed');
  assert.deepEqual(listCheckpoints(runDir), [2], 'the half-written checkpoint of step 4 is not taken for one');
  assert.equal(readdirSync(checkpointsDir(runDir)).filter((name) => name.startsWith('.tmp-')).length, 1, 'what the kill left behind');
  assert.deepEqual(listSamples(runDir).map((s) => s.step), [0, 3]);

  const resumed = await runAfaTrainingJob({ ...run.job('killed'), settings: undefined, trainingSession: session });
  assert.equal(resumed.steps, 6);
  assert.equal(resumed.timing.stepsRun, 4, 'steps 3 to 6 were run again');
  assert.deepEqual(readdirSync(checkpointsDir(runDir)).filter((name) => name.startsWith('.tmp-')), [], 'the next checkpoint cleaned up');

  const uninterrupted = await runAfaTrainingJob({ ...run.job('uninterrupted'), trainingSession: session });
  assert.deepEqual(resumed.train, uninterrupted.train);
  assert.deepEqual(resumed.validation, uninterrupted.validation);
  assert.deepEqual(resumed.validation.map((v) => v.step), [0, 3, 6]);
  for (const [name, values] of uninterrupted.parameters) assert.deepEqual(resumed.parameters.get(name), values, name);
  assert.ok(readFileSync(join(resumed.aggregatorsDir, 'aggregators.safetensors')).equals(readFileSync(join(uninterrupted.aggregatorsDir, 'aggregators.safetensors'))));
  // The samples: step 0 drawn by the killed process, 3 again and 6 by this one; each the same bytes.
  const samples = (dir: string) => listSamples(join(scratch, dir)).flatMap((s) => s.images.map((image) => [s.step, readFileSync(image.file)] as const));
  const [got, expected] = [samples('killed'), samples('uninterrupted')];
  assert.deepEqual(got.map(([step]) => step), [0, 3, 6]);
  got.forEach(([step, bytes], i) => assert.ok(bytes.equals(expected[i]![1]), `sample of step ${step}`));
  assert.ok(existsSync(samplesDir(runDir)));
});
