// npm run demo:train [-- --quick] [--out <pack folder>] [--work <folder>]
// Rebuilds the demo pack from nothing with the studio's own training engine (app/demo/build-demo-pack.ts).
// Resumable: run it again after a stop and it continues from the last checkpoint of the current stage.
// --quick trains every stage for a few steps into a scratch folder and checks that the losses fall
// (what CI runs); it never touches the shipped pack unless --out says so.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildDemoPack } from '../app/demo/build-demo-pack.ts';
import { FULL_RECIPE, QUICK_RECIPE } from '../app/demo/family-config.ts';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
};
const quick = args.includes('--quick');
const root = resolve(new URL('..', import.meta.url).pathname);
const scratch = quick ? mkdtempSync(join(tmpdir(), 'afa-demo-quick-')) : undefined;
const workDir = resolve(option('--work') ?? (scratch ? join(scratch, 'work') : join(root, '.demo-work')));
const outDir = resolve(option('--out') ?? (scratch ? join(scratch, 'pack') : join(root, 'demo', 'pack')));
const recipe = quick ? QUICK_RECIPE : FULL_RECIPE;
const command = `npm run demo:train${args.length ? ` -- ${args.join(' ')}` : ''}`;

const controller = new AbortController();
process.once('SIGINT', () => {
  console.log('\nStopping after this step; run the same command again to continue.');
  controller.abort();
});

let failed = false;
try {
  const result = await buildDemoPack({
    workDir,
    outDir,
    recipe,
    command,
    signal: controller.signal,
    onStage: (p) => console.log(`${p.stage.padEnd(22)} step ${String(p.step).padStart(5)}/${p.steps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}  ${p.secondsPerStep.toFixed(2)} s/step`),
    onTrainingEvent: (event) => {
      if (event.kind === 'step' && (event.step % recipe.logEvery === 0 || event.step === recipe.aggregators.steps)) console.log(`${'aggregators'.padEnd(22)} step ${String(event.step).padStart(5)}/${recipe.aggregators.steps}  loss ${event.smoothedLoss.toFixed(4)}`);
    },
    log: (line) => console.log(line),
  });
  console.log(`Demo pack written to ${outDir} in ${result.seconds} s.`);
  if (quick) {
    const stages = (result.training as { stages: { stage: string; losses: number[] }[] }).stages;
    for (const stage of stages.filter((s) => s.stage === 'vae' || s.stage === 'text' || s.stage === 'base')) {
      const first = stage.losses[0]!;
      const last = stage.losses.at(-1)!;
      console.log(`${stage.stage}: loss ${first.toFixed(4)} → ${last.toFixed(4)}`);
      if (!(last < first)) {
        console.error(`The ${stage.stage} stage did not learn: its loss went from ${first} to ${last}.`);
        failed = true;
      }
    }
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  failed = true;
} finally {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
