// A training run's checkpoints: `<run>/checkpoints/step-NNNNNNNN/` holding
//   parameters.safetensors   the aggregator weights (graph names), float32
//   optimizer.safetensors    AdamW's moments and step count (app/optimizer/optimizer-state-file.ts)
//   state.json               the step (= the data position: data order, noise and timesteps are keyed by
//                            seed and step), the smoothed loss and the metrics so far
// A checkpoint is written into a temporary sibling folder and renamed into place: a full disk or a
// killed process leaves the previous checkpoints as they were (and at most a `.tmp-*` folder, removed
// on the next write). The newest `keep` checkpoints are kept.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { diskFullError, isDiskFull } from '../common/atomic-write.ts';
import { UserError } from '../common/errors.ts';
import { SafetensorsFile, writeSafetensors } from '../tensor/safetensors.ts';
import type { AdamWState } from '../optimizer/adamw.ts';
import { loadOptimizerState, saveOptimizerState } from '../optimizer/optimizer-state-file.ts';

export interface TrainMetric {
  readonly step: number;
  readonly loss: number;
  readonly smoothedLoss: number;
  readonly lr: number;
}

export interface ValidationMetric {
  readonly step: number;
  /** ε-MSE of the ensemble being trained on the validation split (fixed timesteps and noise). */
  readonly loss: number;
}

export interface CheckpointState {
  readonly step: number;
  readonly smoothedLoss: number | null;
  readonly train: readonly TrainMetric[];
  readonly validation: readonly ValidationMetric[];
}

export interface Checkpoint {
  readonly dir: string;
  readonly state: CheckpointState;
  readonly parameters: Map<string, Float32Array>;
  readonly optimizer: AdamWState;
}

const PREFIX = 'step-';

export function checkpointsDir(runDir: string): string {
  return join(runDir, 'checkpoints');
}

/** Steps of the complete checkpoints of a run, oldest first. */
export function listCheckpoints(runDir: string): number[] {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.startsWith(PREFIX) && existsSync(join(dir, name, 'state.json')))
    .map((name) => Number(name.slice(PREFIX.length)))
    .filter(Number.isInteger)
    .sort((a, b) => a - b);
}

export function writeCheckpoint(
  runDir: string,
  state: CheckpointState,
  parameters: ReadonlyMap<string, Float32Array>,
  shapes: ReadonlyMap<string, readonly number[]>,
  optimizer: AdamWState,
  keep: number,
  /** Test hook: called after the files are written, before the folder is renamed into place. */
  beforeCommit?: (temporaryDir: string) => void,
): string {
  const dir = checkpointsDir(runDir);
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) if (name.startsWith('.tmp-')) rmSync(join(dir, name), { recursive: true, force: true });
  const finalDir = join(dir, `${PREFIX}${String(state.step).padStart(8, '0')}`);
  const temporary = join(dir, `.tmp-${PREFIX}${state.step}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(temporary);
    writeSafetensors(
      join(temporary, 'parameters.safetensors'),
      [...parameters].map(([name, data]) => [name, { dtype: 'float32' as const, shape: shapes.get(name) ?? [data.length], data }] as const),
      { format: 'afa-studio-training-parameters' },
    );
    saveOptimizerState(join(temporary, 'optimizer.safetensors'), optimizer, shapes);
    writeFileSync(join(temporary, 'state.json'), JSON.stringify(state));
    beforeCommit?.(temporary);
    if (existsSync(finalDir)) rmSync(finalDir, { recursive: true, force: true });
    renameSync(temporary, finalDir);
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    if (isDiskFull(error) || (error instanceof UserError && error.code === 'disk-full')) throw diskFullError(finalDir);
    throw error;
  }
  const steps = listCheckpoints(runDir);
  for (const step of steps.slice(0, Math.max(0, steps.length - keep))) rmSync(join(dir, `${PREFIX}${String(step).padStart(8, '0')}`), { recursive: true, force: true });
  return finalDir;
}

export function readCheckpoint(runDir: string, step: number): Checkpoint {
  const dir = join(checkpointsDir(runDir), `${PREFIX}${String(step).padStart(8, '0')}`);
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointState;
  } catch (error) {
    throw new UserError('corrupt-file', `The checkpoint ${dir} cannot be read (${(error as Error).message}).`);
  }
  const file = SafetensorsFile.open(join(dir, 'parameters.safetensors'));
  const parameters = new Map<string, Float32Array>();
  try {
    for (const name of file.names()) parameters.set(name, Float32Array.from(file.get(name).read().data as Float32Array));
  } finally {
    file.close();
  }
  return { dir, state, parameters, optimizer: loadOptimizerState(join(dir, 'optimizer.safetensors')) };
}

/** The newest complete checkpoint, or undefined for a run that has none. */
export function latestCheckpoint(runDir: string): Checkpoint | undefined {
  const steps = listCheckpoints(runDir);
  return steps.length === 0 ? undefined : readCheckpoint(runDir, steps[steps.length - 1]!);
}
