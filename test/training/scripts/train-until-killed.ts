// Child process of test/training/killed-run.test.ts: runs the tiny training run of tiny-training-run.ts
// in <scratch>/<runDir>, printing "step N" after each step, and when it is about to commit checkpoint
// number <k> (its files written into the temporary folder, not yet renamed) prints "committing <dir>"
// and stops dead, waiting to be killed (SIGKILL) in the middle of the checkpoint.
// Usage: node --import tsx train-until-killed.ts <scratch> <expert folders, comma-separated> <runDir> <k>
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { runAfaTrainingJob } from '../../../app/training/afa-training-job.ts';
import { openTinyRun } from '../tiny-training-run.ts';

const [scratch, folders, runDir, k] = process.argv.slice(2) as [string, string, string, string];
const run = await openTinyRun(scratch, folders.split(','), join(scratch, `child-${process.pid}`));
let checkpoints = 0;
await runAfaTrainingJob({
  ...run.job(runDir),
  onEvent: (event) => {
    if (event.kind === 'step') writeSync(1, `step ${event.step}\n`);
  },
  beforeCheckpointCommit: (temporaryDir) => {
    if (++checkpoints < Number(k)) return;
    writeSync(1, `committing ${temporaryDir}\n`);
    // Blocks this thread (and so the whole run) until the parent kills the process.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300_000);
    writeSync(2, 'not killed within 5 minutes\n');
    process.exit(3);
  },
});
writeSync(2, 'the run finished without reaching the checkpoint\n');
process.exit(4);
