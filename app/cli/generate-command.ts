// `afa generate`: one request through the generation engine, progress on stderr, the image saved in the
// studio's history (PNG with the settings embedded) and, with --out, copied where asked. Ctrl+C cancels
// within one step and leaves nothing written; the exit status says how it ended (exit-codes.ts).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { studioPaths } from '../common/paths.ts';
import { CancelledError, UserError } from '../common/errors.ts';
import type { GenerationRow } from '../library/generations-table.ts';
import { Library } from '../library/library.ts';
import type { GenerationProgressEvent } from '../pipeline/generation-engine.ts';
import { validateGenerationInput, type GenerationSettings } from '../pipeline/generation-request.ts';
import { createModelRuntime, type PrecisionSetting } from '../pipeline/model-runtime.ts';
import { BACKENDS, type Backend, type SessionOptions } from '../runtime/onnx-runtime.ts';
import { chooseProvider, resolvePrecision, type ProviderChoice } from '../runtime/provider-choice.ts';
import { setRuntimeLogFile } from '../runtime/runtime-log.ts';
import type { CliArguments } from './cli-arguments.ts';
import type { CliCommand, CliContext } from './cli-command.ts';
import { createCliEngine } from './cli-engine.ts';
import { checkMapsFolder, writeContributionMaps } from './contribution-maps.ts';
import { EXIT_OK } from './exit-codes.ts';
import { OUTPUT_OPTIONS, SETTINGS_OPTIONS, TARGET_OPTIONS, settingsFromImage, settingsInput, targetOf } from './generate-options.ts';
import { formatDuration, progressModeOf, ProgressReporter } from './progress-reporter.ts';

/** Where --out puts image i of n: the path itself for one image, else `<stem>-<i+1>.png`. */
export function outPaths(out: string | undefined, count: number): (string | undefined)[] {
  if (out === undefined) return Array.from({ length: count }, () => undefined);
  const absolute = resolve(out);
  if (extname(absolute).toLowerCase() !== '.png') throw new UserError('invalid-argument', `--out must name a .png file; got ${absolute}.`);
  const folder = dirname(absolute);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UserError('not-found', `The folder of --out, ${folder}, does not exist.`, 'Create it first.');
  if (count === 1) return [absolute];
  const stem = basename(absolute, extname(absolute));
  return Array.from({ length: count }, (_, index) => join(folder, `${stem}-${index + 1}.png`));
}

/** --precision (default auto: float16 on GPU providers, float32 on the CPU). */
function precisionOf(args: CliArguments): PrecisionSetting {
  const precision = args.string('precision') ?? 'auto';
  if (precision !== 'auto' && precision !== 'fp32' && precision !== 'fp16') {
    throw new UserError('invalid-argument', `--precision must be auto, fp32 or fp16; got '${precision}'.`);
  }
  return precision;
}

/** --threads and --backend (default auto: the provider remembered for this machine, measured on first use). */
function sessionOptionsOf(args: CliArguments): { readonly options: SessionOptions; readonly backend: Backend | 'auto' } {
  const threads = args.number('threads');
  if (threads !== undefined && (threads < 1 || threads > 1024)) throw new UserError('invalid-argument', `--threads must be 1 or more; got ${threads}.`);
  const backend = args.string('backend') ?? 'auto';
  if (backend !== 'auto' && !(BACKENDS as readonly string[]).includes(backend)) {
    throw new UserError('invalid-argument', `Unknown backend '${backend}'.`, `Choose one of: auto, ${BACKENDS.join(', ')}.`);
  }
  return { options: threads === undefined ? {} : { intraOpThreads: threads }, backend: backend as Backend | 'auto' };
}

function progressUpdate(event: GenerationProgressEvent) {
  if (event.phase === 'load' && event.models) {
    const { done, total } = event.models;
    const { preview: _preview, ...plain } = event;
    return { label: `Loading ${total} model${total === 1 ? '' : 's'}…`, done, total, detail: '', event: { type: 'progress', ...plain } };
  }
  if (event.phase === 'waiting' && event.training) {
    const { name, step, totalSteps, preparing } = event.training;
    const { preview: _preview, ...plain } = event;
    const where = preparing ? preparing.toLowerCase() : `step ${step}/${totalSteps}`;
    return { label: `Waiting for training run '${name}' to pause (${where})…`, done: 0, total: event.total, detail: '', event: { type: 'progress', ...plain } };
  }
  const image = event.imageCount > 1 ? ` (image ${event.imageIndex + 1}/${event.imageCount})` : '';
  const label = { waiting: 'Waiting for the engine', load: 'Loading models', encode: 'Encoding the prompt', denoise: 'Denoising', decode: 'Decoding' }[event.phase] + image;
  const perStep = event.step > 0 && event.phase === 'denoise' ? `${(event.elapsedMs / 1000 / (event.imageIndex * event.total + event.step)).toFixed(2)} s/step` : '';
  const left = event.etaMs === null ? '' : `${formatDuration(event.etaMs)} left`;
  const { preview: _preview, ...plain } = event;
  return { label, done: event.step, total: event.total, detail: [perStep, left].filter(Boolean).join(', '), event: { type: 'progress', ...plain } };
}

function imageJson(row: GenerationRow, library: Library, out: string | undefined) {
  return {
    id: row.id,
    seed: row.settings.seed,
    batchIndex: row.settings.batchIndex,
    width: row.settings.width,
    height: row.settings.height,
    path: library.absolutePath(row.imagePath!),
    thumbnail: library.absolutePath(row.thumbnailPath!),
    out: out ?? null,
    timings: row.timings,
  };
}

async function generate(args: CliArguments, context: CliContext): Promise<number> {
  if (args.positionals.length > 0) {
    throw new UserError('invalid-argument', `afa generate takes no positional arguments (got '${args.positionals[0]}').`, 'Put the prompt in --prompt "…" (quoted).');
  }
  const fromImage = args.string('from');
  const base = fromImage === undefined ? undefined : settingsFromImage(fromImage, context.home);
  for (const note of base?.notes ?? []) context.io.stderr.write(`note: ${note}.\n`);
  const target = targetOf(args, context.home) ?? base?.target;
  if (!target && base?.missingModel) {
    const { name, hash } = base.missingModel;
    throw new UserError(
      'not-found',
      `${fromImage} was made with ${name ?? 'a model'}${hash ? ` (hash ${hash})` : ''}, which is not imported.`,
      'Import it (`afa import <checkpoint>`), or pick a model with -m <model>.',
    );
  }
  if (!target) {
    const flags = TARGET_OPTIONS.flatMap((entry) => entry.options.map((option) => `--${option.name}`)).join(' or ');
    throw new UserError('invalid-argument', `Say which model to use with ${flags}.`, 'List the imported models with `afa models`.');
  }
  const settings: GenerationSettings = validateGenerationInput(settingsInput(args, base?.input));
  const outs = outPaths(args.string('out'), settings.batchCount);
  const mapsFolder = args.string('maps');
  const maps = mapsFolder === undefined ? undefined : checkMapsFolder(mapsFolder);
  const progress = new ProgressReporter(context.io.stderr, progressModeOf(args.string('progress'), context.io.stderr));
  const session = sessionOptionsOf(args);
  const precision = precisionOf(args);
  setRuntimeLogFile(join(context.home, 'logs', 'engine.log'));
  let backend: Backend;
  let choice: ProviderChoice | undefined;
  if (session.backend === 'auto') {
    choice = await chooseProvider(join(context.home, 'provider-choice.json'));
    backend = choice.backend;
    const measured = choice.measurements.filter((entry) => entry.ms !== undefined).map((entry) => `${entry.backend} ${entry.ms!.toFixed(1)} ms`);
    progress.note(`Provider: ${backend} (auto; probe ${measured.join(', ')})`);
  } else {
    backend = session.backend;
  }
  const runtime = createModelRuntime({
    sessionOptions: { ...session.options, backend, optimizedModels: studioPaths(context.home).optimizedModels },
    precision: resolvePrecision(precision, choice),
    onFallback: (message) => progress.note(message),
  });
  const library = Library.open({ home: context.home });
  const engine = createCliEngine(library, runtime);
  let cancel = () => {};
  try {
    const job = engine.enqueue({ settings, target });
    const seeds = settings.batchCount > 1 ? `seeds ${settings.seed}…${settings.seed + settings.batchCount - 1}` : `seed ${settings.seed}`;
    progress.note(`Generating ${settings.width}x${settings.height}, ${settings.steps} steps of ${settings.sampler}, ${seeds}`);
    engine.onDidProgress((event) => progress.update(progressUpdate(event)));
    cancel = () => engine.cancel(job.jobId);
    context.io.interrupt.addEventListener('abort', cancel);
    if (context.io.interrupt.aborted) cancel();
    const outcome = await job.settled;
    progress.finish();
    if (outcome.status === 'cancelled') {
      const kept = outcome.generations.length > 0 ? ` The ${outcome.generations.length} image(s) finished before it are kept.` : '';
      throw new CancelledError(`Cancelled: the image in progress was not saved.${kept}`);
    }
    if (outcome.status === 'failed') throw outcome.error;
    const mapFiles: string[] = [];
    outcome.generations.forEach((row, index) => {
      const out = outs[index];
      if (out) writeFileAtomic(out, readFileSync(library.absolutePath(row.imagePath!)));
      if (maps) mapFiles.push(...writeContributionMaps(maps, row.id, row.settings.extra?.contributions));
    });
    if (maps && mapFiles.length === 0) progress.note('No contribution maps: only AFA recipes (with trained aggregators) record them.');
    if (context.json) {
      const images = outcome.generations.map((row, index) => imageJson(row, library, outs[index]));
      context.io.stdout.write(`${JSON.stringify({ ok: true, jobId: job.jobId, target, settings, images, ...(maps ? { maps: mapFiles } : {}) }, null, 2)}\n`);
    } else {
      outcome.generations.forEach((row, index) => {
        const seconds = row.timings ? `, ${(row.timings.totalMs / 1000).toFixed(1)} s` : '';
        context.io.stdout.write(`${outs[index] ?? library.absolutePath(row.imagePath!)}  (seed ${row.settings.seed}${seconds})\n`);
      });
    }
    return EXIT_OK;
  } finally {
    context.io.interrupt.removeEventListener('abort', cancel);
    progress.finish();
    await engine.dispose();
    await runtime.sessions.clear();
    library.close();
  }
}

export const generateCommand: CliCommand = {
  name: 'generate',
  setsUpDemo: true,
  writesHome: true,
  summary: 'Make images from a prompt with an imported model or an ensemble',
  usage: 'afa generate (--model <id> | --recipe <name> | --models a,b,c --method <m>) --prompt <text> [options]',
  description: [
    'Generates images and keeps each one in the studio’s history as a PNG that carries every setting',
    '(AUTOMATIC1111 "parameters" plus the studio’s own record), so `--from image.png` makes it again,',
    'bit for bit on the same machine. Without --seed a random seed is used and printed.',
    'Ctrl+C stops within one step and saves nothing of the image in progress.',
  ].join('\n'),
  options: [...TARGET_OPTIONS.flatMap((entry) => entry.options), ...SETTINGS_OPTIONS, ...OUTPUT_OPTIONS],
  examples: [
    'afa generate -m 3f2a9c -p "a lighthouse at night, oil painting" --out lighthouse.png',
    'afa generate -m "SD 1.5" -p "a red fox" -n "blurry" --sampler dpmpp-2m-karras --steps 20 --seed 42',
    'afa generate --from lighthouse.png --seed 7 --out variation.png',
    'afa generate -m 3f2a9c -p "a cat" --size 512x768 --batch 4 --json > result.json',
    'afa generate --models dreamshaper,realistic,anything --method afa --aggregator ./afa-run -p "a castle" --maps maps/',
    'afa generate --recipe "My trio" -p "a castle" --seed 7',
    'afa generate --models a1b2c3,d4e5f6 --method mbw --mbw-base 0.3 -p "a portrait"',
  ],
  run: generate,
};
