// AdamW's state in a checkpoint: one safetensors file with `exp_avg/<name>` and `exp_avg_sq/<name>`
// for every parameter and the step count in the metadata, written atomically (a checkpoint is either
// complete or absent).
import { UserError } from '../common/errors.ts';
import { SafetensorsFile, writeSafetensors } from '../tensor/safetensors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { AdamWState } from './adamw.ts';

export function saveOptimizerState(path: string, state: AdamWState, shapes: ReadonlyMap<string, readonly number[]>): void {
  const tensors: [string, Tensor][] = [];
  for (const [kind, moments] of [['exp_avg', state.exp_avg], ['exp_avg_sq', state.exp_avg_sq]] as const) {
    for (const [name, values] of moments) tensors.push([`${kind}/${name}`, { dtype: 'float32', shape: shapes.get(name) ?? [values.length], data: values }]);
  }
  writeSafetensors(path, tensors, { format: 'afa-studio-adamw', step: String(state.step) });
}

export function loadOptimizerState(path: string): AdamWState {
  const file = SafetensorsFile.open(path);
  try {
    if (file.metadata.format !== 'afa-studio-adamw') throw new UserError('corrupt-file', `${path} is not an optimizer state written by the studio.`);
    const step = Number(file.metadata.step);
    const expAvg = new Map<string, Float32Array>();
    const expAvgSq = new Map<string, Float32Array>();
    for (const name of file.names()) {
      const slash = name.indexOf('/');
      const [kind, parameter] = [name.slice(0, slash), name.slice(slash + 1)];
      const data = file.get(name).read().data as Float32Array;
      if (kind === 'exp_avg') expAvg.set(parameter, data);
      else if (kind === 'exp_avg_sq') expAvgSq.set(parameter, data);
    }
    return { step, exp_avg: expAvg, exp_avg_sq: expAvgSq };
  } finally {
    file.close();
  }
}
