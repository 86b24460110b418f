// One stage of training a model from scratch (the demo family's VAE, base model and experts): a compiled
// training step (app/training/training-session.ts), AdamW, a learning-rate schedule, and checkpoints that
// make the stage resumable exactly. Every batch is a pure function of the step (the caller's `feedsAt`),
// so a stage resumed from its checkpoint (parameters, AdamW moments, step, loss history) continues with
// the same batches an uninterrupted run would have seen and ends with the same weights.
//
//   <dir>/checkpoint/            the latest checkpoint, replaced atomically (temp folder + rename)
//   <dir>/weights.safetensors    the trained parameters (float32), written when the stage completes
//   <dir>/stage.json             what was trained and its loss curve, written last: its presence = done
//
// A finished stage or a checkpoint is only reused for the same stage: its settings and identity (what
// else decides the result: recipe, seed, configurations, digests of the weights it starts from) are
// recorded with it and compared on every run, so a changed recipe or a retrained upstream stage is
// refused by name instead of silently continuing the old training.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from '../checkpoints/hash.ts';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { throwIfCancelled, UserError } from '../common/errors.ts';
import type { JobControl } from '../common/progress.ts';
import { AdamW, type AdamWConfig } from '../optimizer/adamw.ts';
import { clipGlobalNorm } from '../optimizer/gradients.ts';
import { learningRateAt, type LearningRateSchedule } from '../optimizer/learning-rate.ts';
import { loadOptimizerState, saveOptimizerState } from '../optimizer/optimizer-state-file.ts';
import { SafetensorsFile, writeSafetensors } from '../tensor/safetensors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import type { TrainingGraph } from '../training/training-graph.ts';
import { TrainingSession } from '../training/training-session.ts';

export interface StageSettings {
  readonly steps: number;
  readonly optimizer: Partial<AdamWConfig>;
  readonly schedule: Omit<LearningRateSchedule, 'totalSteps'>;
  /** Global gradient-norm clipping (none when absent). */
  readonly maxGradientNorm?: number;
  readonly checkpointEvery: number;
  /** Loss lines are reported every this many steps. */
  readonly logEvery: number;
  /**
   * Parameters held still for the first `steps` steps: those whose names start with one of `prefixes`
   * get no update (their gradients are dropped before clipping, and AdamW starts their moments when they
   * join). The demo's text stage uses it to train the image encoder against the text side's first,
   * random caption embeddings before either side may move (family-config.ts `freezeTextSteps`).
   */
  readonly freeze?: { readonly prefixes: readonly string[]; readonly steps: number };
}

export interface StageRecord {
  readonly stage: string;
  readonly steps: number;
  readonly settings: StageSettings;
  /** Mean loss of each block of `logEvery` steps. */
  readonly losses: readonly number[];
  readonly seconds: number;
  readonly extra?: Readonly<Record<string, unknown>>;
  /** What besides `settings` decided the result (see `runStage`); absent in records of earlier builds. */
  readonly identity?: StageIdentity;
}

/** JSON data that, with the settings, decides what a stage trains. */
export type StageIdentity = Readonly<Record<string, JsonValue>>;

export const STAGE_RECORD = 'stage.json';
export const STAGE_WEIGHTS = 'weights.safetensors';

export function stageDone(dir: string): StageRecord | undefined {
  const path = join(dir, STAGE_RECORD);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as StageRecord) : undefined;
}

/** SHA-256 (hex) of a finished stage's weights file: how a later stage names the weights it starts from. */
export function stageWeightsDigest(dir: string): Promise<string> {
  return sha256File(join(dir, STAGE_WEIGHTS));
}

/** Every leaf of a JSON value by its dotted path, as JSON text. */
function leaves(value: unknown, path: string, out: Map<string, string>): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) if (child !== undefined) leaves(child, path ? `${path}.${key}` : key, out);
  } else {
    out.set(path, JSON.stringify(value));
  }
  return out;
}

/** The differences between what a stage was trained with and what it is asked for now, in words (at most 6). */
export function stageDifferences(recorded: { settings?: unknown; identity?: unknown }, wanted: { settings: unknown; identity: unknown }): string[] {
  if (recorded.identity === undefined) return ['its record comes from an earlier version of the build, which did not note the recipe'];
  const before = leaves({ settings: recorded.settings, identity: recorded.identity }, '', new Map());
  const after = leaves({ settings: wanted.settings, identity: wanted.identity }, '', new Map());
  const differences: string[] = [];
  for (const path of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(path);
    const now = after.get(path);
    if (was !== now) differences.push(`${path.replace(/^(settings|identity)\./, '')}: ${was ?? '(none)'} then, ${now ?? '(none)'} now`);
  }
  return differences.length > 6 ? [...differences.slice(0, 6), `and ${differences.length - 6} more`] : differences;
}

function refuseOther(stage: string, dir: string, what: string, differences: readonly string[]): never {
  throw new UserError(
    'conflict',
    `Stage '${stage}' in ${dir} (${what}) was trained with other settings than the recipe's: ${differences.join('; ')}.`,
    `Delete ${dir} to train the stage again, or build into a new work folder.`,
  );
}

/** The trained float32 parameters of a finished stage, by weight name. */
export function stageWeights(dir: string): Map<string, Tensor<'float32'>> {
  const file = SafetensorsFile.open(join(dir, STAGE_WEIGHTS));
  const weights = new Map<string, Tensor<'float32'>>();
  for (const name of file.names()) weights.set(name, file.get(name).read() as Tensor<'float32'>);
  return weights;
}

export interface StageProgress {
  readonly stage: string;
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly lr: number;
  readonly secondsPerStep: number;
}

/**
 * Trains `build()`'s parameters for `settings.steps` steps (or what remains after a checkpoint) and
 * writes the stage's results. `feedsAt(step)` returns the data inputs of step `step` (0-based).
 */
export async function runStage(options: {
  readonly stage: string;
  readonly dir: string;
  readonly build: () => TrainingGraph;
  readonly settings: StageSettings;
  /**
   * What besides `settings` decides the result: the stage's recipe, the seed, model configurations and
   * the digests (`stageWeightsDigest`) of the stages whose weights it reads. A finished stage or a
   * checkpoint recorded with other settings or another identity is refused, never reused.
   */
  readonly identity: StageIdentity;
  readonly feedsAt: (step: number) => Promise<Readonly<Record<string, Tensor>>> | Readonly<Record<string, Tensor>>;
  readonly onStep?: (progress: StageProgress) => void;
  readonly extra?: () => Readonly<Record<string, unknown>>;
} & JobControl): Promise<StageRecord> {
  const { stage, dir, settings, identity } = options;
  const wanted = { settings: JSON.parse(JSON.stringify(settings)) as unknown, identity };
  const done = stageDone(dir);
  if (done) {
    const differences = stageDifferences(done, wanted);
    if (differences.length > 0) refuseOther(stage, dir, 'finished', differences);
    return done;
  }
  const checkpointDir = join(dir, 'checkpoint');
  const statePath = join(checkpointDir, 'state.json');
  const state = existsSync(statePath) ? (JSON.parse(readFileSync(statePath, 'utf8')) as { step: number; losses: number[]; seconds: number; settings?: unknown; identity?: unknown }) : undefined;
  if (state) {
    const differences = stageDifferences(state, wanted);
    if (differences.length > 0) refuseOther(stage, dir, `stopped at step ${state.step}`, differences);
  }
  mkdirSync(dir, { recursive: true });
  const session = await TrainingSession.create(options.build(), { dir: join(dir, 'graph'), signal: options.signal });
  try {
    const optimizer = new AdamW(settings.optimizer);
    const losses: number[] = [];
    let step = 0;
    let previousSeconds = 0;
    if (state) {
      const saved = SafetensorsFile.open(join(checkpointDir, 'parameters.safetensors'));
      for (const [name, values] of session.parameters) {
        const tensor = saved.get(name).read();
        if (tensor.data.length !== values.length) throw new UserError('corrupt-file', `The checkpoint of stage '${stage}' does not match its model (${name}).`, `Delete ${checkpointDir} to start the stage again.`);
        values.set(tensor.data as Float32Array);
      }
      optimizer.load(loadOptimizerState(join(checkpointDir, 'optimizer.safetensors')));
      step = state.step;
      losses.push(...state.losses);
      previousSeconds = state.seconds;
    }
    const schedule: LearningRateSchedule = { ...settings.schedule, totalSteps: settings.steps };
    let block: number[] = [];
    let blockStarted = performance.now();
    const resumedAt = performance.now();
    while (step < settings.steps) {
      throwIfCancelled(options.signal);
      const feeds = await options.feedsAt(step);
      const { loss, gradients } = await session.computeFeeds(feeds);
      if (!Number.isFinite(loss)) {
        throw new UserError('invalid-argument', `Stage '${stage}' diverged at step ${step}: the loss is ${loss}.`, 'Lower the learning rate or resume from the last checkpoint.');
      }
      const { freeze } = settings;
      if (freeze && step < freeze.steps) {
        for (const name of [...gradients.keys()]) if (freeze.prefixes.some((prefix) => name.startsWith(prefix))) gradients.delete(name);
      }
      if (settings.maxGradientNorm !== undefined) clipGlobalNorm(gradients, settings.maxGradientNorm);
      const lr = learningRateAt(schedule, step);
      await optimizer.updateInParallel(session.parameters, gradients, lr);
      step++;
      block.push(loss);
      if (block.length === settings.logEvery || step === settings.steps) {
        const mean = block.reduce((a, b) => a + b, 0) / block.length;
        losses.push(mean);
        options.onStep?.({ stage, step, steps: settings.steps, loss: mean, lr, secondsPerStep: (performance.now() - blockStarted) / 1000 / block.length });
        block = [];
        blockStarted = performance.now();
      }
      if (step % settings.checkpointEvery === 0 && step < settings.steps) {
        // Only whole blocks are in `losses`, and checkpointEvery is a multiple of logEvery.
        writeCheckpoint(checkpointDir, session, optimizer, { step, losses, seconds: previousSeconds + (performance.now() - resumedAt) / 1000, settings, identity });
      }
    }
    const parameters = new Map<string, Tensor>();
    for (const [name, values] of session.parameters) parameters.set(name, { dtype: 'float32', shape: session.shapes.get(name)!, data: values });
    writeSafetensors(join(dir, STAGE_WEIGHTS), parameters);
    const record: StageRecord = {
      stage,
      steps: settings.steps,
      settings,
      identity,
      losses,
      seconds: Math.round(previousSeconds + (performance.now() - resumedAt) / 1000),
      ...(options.extra ? { extra: options.extra() } : {}),
    };
    writeFileAtomic(join(dir, STAGE_RECORD), Buffer.from(`${JSON.stringify(record, null, 2)}\n`));
    rmSync(checkpointDir, { recursive: true, force: true });
    rmSync(join(dir, 'graph'), { recursive: true, force: true });
    return record;
  } finally {
    await session.release();
  }
}

function writeCheckpoint(dir: string, session: TrainingSession, optimizer: AdamW, state: { step: number; losses: readonly number[]; seconds: number; settings: StageSettings; identity: StageIdentity }): void {
  const temp = `${dir}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  const parameters = new Map<string, Tensor>();
  for (const [name, values] of session.parameters) parameters.set(name, { dtype: 'float32', shape: session.shapes.get(name)!, data: values });
  writeSafetensors(join(temp, 'parameters.safetensors'), parameters);
  saveOptimizerState(join(temp, 'optimizer.safetensors'), optimizer.state(), session.shapes);
  writeFileAtomic(join(temp, "state.json"), Buffer.from(JSON.stringify(state)));
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(temp, dir);
  rmSync(old, { recursive: true, force: true });
}
