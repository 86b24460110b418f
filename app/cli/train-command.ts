// `afa train --models a,b,c --data <folder> …` trains AFA aggregators for imported models on a folder
// of captioned images (or on images of the history: `--from-history <words>`, `--favourites`);
// `afa train list | show <run> | resume <run> | delete <run>` manage the runs.
// Ctrl+C writes a checkpoint and exits 130; `resume` continues exactly where the run stopped.
import { UserError } from '../common/errors.ts';
import type { CliCommand } from './cli-command.ts';
import { EXIT_OK } from './exit-codes.ts';
import { findModel } from './model-reference.ts';
import { formatDuration, ProgressReporter, progressModeOf, PROGRESS_MODES } from './progress-reporter.ts';
import type { TrainingEvent } from '../training/afa-training-job.ts';
import type { TrainingRunRow } from '../library/training-runs-table.ts';
import { createTrainingRun, deleteTrainingRun, getTrainingRun, listTrainingRuns, runTraining, trainingRunSamples, type DatasetSource } from '../training/studio-training.ts';
import type { TrainingSettings } from '../training/training-settings.ts';
import type { ScheduleKind } from '../optimizer/learning-rate.ts';
import { TRAINING_DEFAULTS } from '../training/training-settings.ts';

/** `--lr-schedule` names: the studio's short ones and diffusers' own. */
const LR_SCHEDULES: ReadonlyMap<string, ScheduleKind> = new Map([
  ['constant', 'constant'],
  ['warmup', 'constant_with_warmup'],
  ['constant_with_warmup', 'constant_with_warmup'],
  ['linear', 'linear'],
  ['cosine', 'cosine'],
]);

function lrSchedule(name: string | undefined, warmupSteps: number | undefined): ScheduleKind | undefined {
  if (name === undefined) return undefined;
  const kind = LR_SCHEDULES.get(name);
  if (!kind) throw new UserError('invalid-argument', `Unknown learning-rate schedule '${name}'.`, 'Use --lr-schedule constant, warmup, linear or cosine.');
  if (kind === 'constant_with_warmup' && !(warmupSteps !== undefined && warmupSteps > 0)) {
    throw new UserError('invalid-argument', 'The warmup schedule needs the number of warm-up steps.', 'Add --warmup-steps <n> (e.g. 100).');
  }
  return kind;
}

/** The dataset options: exactly one of a folder and a history selection. */
function datasetOption(data: string | undefined, historyWords: string | undefined, favourites: boolean): DatasetSource {
  const fromHistory = historyWords !== undefined || favourites;
  if (data !== undefined && fromHistory) throw new UserError('invalid-argument', 'Give either --data <folder> or --from-history/--favourites, not both.');
  if (fromHistory) return { kind: 'history', ...(historyWords?.trim() ? { text: historyWords.trim() } : {}), ...(favourites ? { favouritesOnly: true } : {}) };
  if (!data) throw new UserError('invalid-argument', 'Give the dataset with --data <folder>, or train on history images with --from-history <words> or --favourites.');
  return { kind: 'folder', path: data };
}

function describeRun(run: TrainingRunRow): string {
  const last = [...run.metrics].reverse().find((m) => typeof m.smoothedLoss === 'number');
  const validation = [...run.metrics].reverse().find((m) => typeof m.validationLoss === 'number');
  const parts = [`${run.id}  ${run.status.padEnd(9)}  ${run.name}`];
  if (last) parts.push(`step ${last.step}, loss ${last.smoothedLoss!.toFixed(4)}`);
  if (validation) parts.push(`validation ${validation.validationLoss!.toFixed(4)}`);
  if (run.aggregatorId) parts.push(`aggregators ${run.aggregatorId}`);
  if (run.error && run.status !== 'done') parts.push(run.error);
  return parts.join('  ·  ');
}

export const trainCommand: CliCommand = {
  name: 'train',
  summary: 'Train AFA aggregators for imported models on a folder of captioned images',
  usage: 'afa train --models a,b,c --data <folder> [options] | afa train list | show <run> | resume <run> | delete <run>',
  description: [
    'Trains the 25 SABW aggregators of an AFA ensemble of the given models (the official recipe: AdamW',
    'lr 1e-4, weight decay 0.01, batch 8, 10 epochs, caption dropout 0.1, ε-MSE). The data folder holds',
    'PNG/JPEG/WebP images with same-name .txt captions (nested folders too) or a metadata.jsonl/.csv',
    '(file_name, text); --from-history <words> and/or --favourites train on images of the history instead,',
    'their prompts as captions (the images found when the run is created). Latents and text embeddings',
    'are cached under <home>/training/cache. Each validation also draws sample images (fixed prompts and',
    'seeds) into <home>/training/<run>/samples. Ctrl+C saves a checkpoint and exits 130;',
    '`afa train resume <run>` continues with the same data order and noise.',
    'The trained set is imported as aggregators (see `afa aggregators`).',
  ].join('\n'),
  options: [
    { name: 'models', kind: 'string', value: '<a,b,c>', description: 'The members, in order (ids, short hashes or names)' },
    { name: 'data', kind: 'string', value: '<folder>', description: 'The dataset folder' },
    { name: 'from-history', kind: 'string', value: '<words>', description: 'Train on the history images a search finds (prompts as captions; "" for all)' },
    { name: 'favourites', kind: 'flag', description: 'Train on the favourite images of the history (with --from-history: the favourites it finds)' },
    { name: 'resolution', kind: 'integer', value: '<px>', description: `Training resolution, a multiple of 64 (default ${TRAINING_DEFAULTS.resolution})` },
    { name: 'steps', kind: 'integer', value: '<n>', description: 'Optimizer steps (default: --epochs passes)' },
    { name: 'epochs', kind: 'integer', value: '<n>', description: `Passes over the data (default ${TRAINING_DEFAULTS.epochs})` },
    { name: 'batch', kind: 'integer', value: '<n>', description: `Images per step (default ${TRAINING_DEFAULTS.batchSize})` },
    { name: 'micro-batch', kind: 'integer', value: '<n>', description: 'Images per training-graph call; gradients are accumulated (default: the largest part of the batch that fits in free memory)' },
    { name: 'lr', kind: 'number', value: '<rate>', description: `Learning rate (default ${TRAINING_DEFAULTS.lr})` },
    { name: 'lr-schedule', kind: 'string', value: '<constant|warmup|linear|cosine>', description: 'Learning-rate schedule: warmup = linear warm-up then constant; linear and cosine decay to 0 after the warm-up (default constant)' },
    { name: 'warmup-steps', kind: 'integer', value: '<n>', description: 'Warm-up steps of the schedule (default 0)' },
    { name: 'max-grad-norm', kind: 'number', value: '<x>', description: 'Clip the global gradient norm to x (default 0: no clipping, as the official recipe)' },
    { name: 'seed', kind: 'integer', value: '<n>', description: 'Seed of the data order, noise, timesteps and dropout (default 0)' },
    { name: 'validation-share', kind: 'number', value: '<0..1>', description: `Held-out share (default ${TRAINING_DEFAULTS.validationShare})` },
    { name: 'validate-every', kind: 'integer', value: '<steps>', description: `Validation interval (default ${TRAINING_DEFAULTS.validationEvery}; 0: at the end only)` },
    { name: 'checkpoint-every', kind: 'integer', value: '<steps>', description: `Checkpoint interval (default ${TRAINING_DEFAULTS.checkpointEvery})` },
    { name: 'sample-prompt', kind: 'string', value: '<text>', repeatable: true, description: `A prompt of the sample images drawn at each validation (repeatable; default: ${TRAINING_DEFAULTS.sampleCount} validation captions)` },
    { name: 'samples', kind: 'integer', value: '<n>', description: `How many validation captions to sample without --sample-prompt (default ${TRAINING_DEFAULTS.sampleCount}; 0: none)` },
    { name: 'sample-steps', kind: 'integer', value: '<n>', description: `Sampler steps of each sample image (default ${TRAINING_DEFAULTS.sampleSteps})` },
    { name: 'sample-seed', kind: 'integer', value: '<n>', description: 'Seed of the first sample image; the next ones count up (default 0)' },
    { name: 'aggregators', kind: 'string', value: '<folder>', description: 'Start from this aggregator set instead of new aggregators' },
    { name: 'caption-from-file-name', kind: 'flag', description: 'Caption images without a .txt with their file name instead of refusing' },
    { name: 'skip-small', kind: 'flag', description: 'Skip images smaller than the resolution instead of upscaling them' },
    { name: 'progress', kind: 'string', value: `<${PROGRESS_MODES.join('|')}>`, description: 'Progress display on stderr' },
  ],
  examples: [
    'afa train --models dreamshaper,realistic,anything --data ./photos --steps 2000',
    'afa train --models dreamshaper,realistic --favourites --steps 500 --lr-schedule cosine --warmup-steps 50',
    'afa train list',
    'afa train resume trn-…',
  ],
  async run(args, context) {
    const [action, runId] = args.positionals;
    const { io, home, json } = context;
    const print = (value: object, text: string) => io.stdout.write(json ? `${JSON.stringify({ ok: true, ...value }, null, 2)}\n` : `${text}\n`);
    if (action === 'list') {
      const runs = listTrainingRuns(home);
      print({ runs }, runs.length === 0 ? 'No training runs yet.' : runs.map(describeRun).join('\n'));
      return EXIT_OK;
    }
    if (action === 'show' || action === 'delete' || action === 'resume') {
      if (!runId) throw new UserError('invalid-argument', `afa train ${action} needs the run's id (see \`afa train list\`).`);
      if (action === 'show') {
        const run = getTrainingRun(home, runId);
        const samples = trainingRunSamples(home, runId);
        const sampleLines = samples.map((step) => `samples at step ${step.step}: ${step.images.map((image) => image.file).join(', ')}`);
        print({ run, samples }, [describeRun(run), `settings: ${JSON.stringify(run.config)}`, ...sampleLines].join('\n'));
        return EXIT_OK;
      }
      if (action === 'delete') {
        deleteTrainingRun(home, runId);
        print({ deleted: runId }, `Deleted training run ${runId} (its aggregators stay).`);
        return EXIT_OK;
      }
    } else if (action !== undefined) {
      throw new UserError('invalid-argument', `Unknown action '${action}'.`, 'Use `afa train --models … --data …`, or list, show, resume, delete.');
    }
    let id = runId;
    if (action !== 'resume') {
      const models = (args.string('models') ?? '').split(',').map((part) => part.trim()).filter(Boolean);
      if (models.length < 2) throw new UserError('invalid-argument', 'Name 2–6 members with --models a,b,c (in order).');
      const dataset = datasetOption(args.string('data'), args.string('from-history'), args.flag('favourites'));
      const samplePrompts = args.strings('sample-prompt');
      const settings: Partial<TrainingSettings> = {
        resolution: args.number('resolution'),
        steps: args.number('steps'),
        epochs: args.number('epochs'),
        batchSize: args.number('batch'),
        microBatch: args.number('micro-batch'),
        lr: args.number('lr'),
        schedule: lrSchedule(args.string('lr-schedule'), args.number('warmup-steps')),
        warmupSteps: args.number('warmup-steps'),
        maxGradNorm: args.number('max-grad-norm'),
        seed: args.number('seed'),
        validationShare: args.number('validation-share'),
        validationEvery: args.number('validate-every'),
        checkpointEvery: args.number('checkpoint-every'),
        missingCaptions: args.flag('caption-from-file-name') ? 'use-file-name' : undefined,
        smallImages: args.flag('skip-small') ? 'skip' : undefined,
        samplePrompts: samplePrompts.length > 0 ? samplePrompts : undefined,
        sampleCount: args.number('samples'),
        sampleSteps: args.number('sample-steps'),
        sampleSeed: args.number('sample-seed'),
      };
      const run = createTrainingRun(home, { models: models.map((reference) => findModel(home, reference).id), dataset, settings, startFrom: args.string('aggregators') });
      id = run.id;
      if (!json) io.stderr.write(`Training run ${id}\n`);
    }
    const reporter = new ProgressReporter(io.stderr, progressModeOf(args.string('progress') ?? (json ? 'none' : undefined), io.stderr));
    const onEvent = (event: TrainingEvent): void => {
      if (event.kind === 'prepare') {
        reporter.update({ label: event.progress.message ?? event.progress.phase, done: event.progress.done, total: Math.max(1, event.progress.total), event });
      } else if (event.kind === 'step') {
        reporter.update({
          label: `Training (epoch ${event.epoch + 1})`,
          done: event.step,
          total: event.totalSteps,
          detail: `loss ${event.loss.toFixed(4)} (smoothed ${event.smoothedLoss.toFixed(4)}), lr ${event.lr.toExponential(1)}, ${event.secondsPerStep.toFixed(2)} s/step, ${formatDuration(event.etaSeconds * 1000)} left, micro-batch ${event.microBatch}`,
          event,
        });
      } else if (event.kind === 'validation' && !json) {
        reporter.finish();
        const members = event.reference ? `; members ${event.reference.members.map((l) => l.toFixed(4)).join(', ')}, uniform average ${event.reference.uniformAverage.toFixed(4)}` : '';
        io.stderr.write(`Validation at step ${event.step}: ensemble ${event.loss.toFixed(4)}${members}\n`);
        if (event.samples) io.stderr.write(`Samples: ${event.samples.images.map((image) => image.file).join(', ')}\n`);
      }
    };
    try {
      const { run, result } = await runTraining(home, id!, { signal: io.interrupt, onEvent });
      reporter.finish();
      const last = result.validation.at(-1);
      print(
        { run, aggregatorId: run.aggregatorId, steps: result.steps, validation: result.validation, reference: result.reference },
        `Trained ${result.steps} steps; aggregators ${run.aggregatorId}${last ? `; validation ε-MSE ${last.loss.toFixed(4)}` : ''}.`,
      );
      return EXIT_OK;
    } finally {
      reporter.finish();
    }
  },
};
