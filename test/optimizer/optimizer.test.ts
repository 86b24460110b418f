// AdamW over several steps against a float64 transcription of torch's formula, state checkpoints
// (save + load + continue = uninterrupted, bit for bit), gradient accumulation, clipping, schedules.
// The single-step float32 agreement with torch itself is the golden case afa_train_step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdamW } from '../../app/optimizer/adamw.ts';
import { clipGlobalNorm, globalNorm, GradientAccumulator } from '../../app/optimizer/gradients.ts';
import { learningRateAt } from '../../app/optimizer/learning-rate.ts';
import { loadOptimizerState, saveOptimizerState } from '../../app/optimizer/optimizer-state-file.ts';
import { normal, random } from '../autodiff/finite-differences.ts';

function sequence(seed: number, length: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length }, () => normal(next) * 0.1);
}

test('AdamW follows torch’s formula over 20 steps (decoupled decay, bias correction, ε after the root)', () => {
  const lr = 1e-3;
  const [b1, b2, eps, wd] = [0.9, 0.999, 1e-8, 0.01];
  const p = sequence(1, 64);
  const reference = Float64Array.from(p);
  const m = new Float64Array(64);
  const v = new Float64Array(64);
  const optimizer = new AdamW({ lr, weightDecay: wd });
  for (let t = 1; t <= 20; t++) {
    const g = sequence(100 + t, 64);
    optimizer.update(new Map([['p', p]]), new Map([['p', g]]));
    for (let i = 0; i < 64; i++) {
      reference[i] = reference[i]! * (1 - lr * wd);
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      reference[i] = reference[i]! - (lr / (1 - b1 ** t)) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** t) + eps));
    }
  }
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(p[i]! - reference[i]!) <= 1e-6 * (1 + Math.abs(reference[i]!)), `element ${i}: ${p[i]} vs ${reference[i]}`);
  assert.equal(optimizer.step, 20);
});

test('an optimizer state saved and loaded continues exactly like an uninterrupted run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'afa-adamw-'));
  try {
    const run = (steps: number[], optimizer: AdamW, p: Float32Array) => {
      for (const t of steps) optimizer.update(new Map([['w', p]]), new Map([['w', sequence(200 + t, p.length)]]), 1e-3);
    };
    const straight = sequence(7, 33);
    run([1, 2, 3, 4, 5], new AdamW(), straight);
    const resumed = sequence(7, 33);
    const first = new AdamW();
    run([1, 2, 3], first, resumed);
    const path = join(dir, 'optimizer.safetensors');
    saveOptimizerState(path, first.state(), new Map([['w', [3, 11]]]));
    const second = new AdamW();
    second.load(loadOptimizerState(path));
    assert.equal(second.step, 3);
    run([4, 5], second, resumed);
    assert.deepEqual(resumed, straight);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gradient accumulation averages micro-batches; clipping scales to the global norm', () => {
  const accumulator = new GradientAccumulator();
  accumulator.add(new Map([['a', Float32Array.of(1, 2)], ['b', Float32Array.of(4)]]));
  accumulator.add(new Map([['a', Float32Array.of(3, 6)], ['b', Float32Array.of(4)]]));
  const mean = accumulator.mean();
  assert.deepEqual([...mean.get('a')!], [2, 4]);
  assert.deepEqual([...mean.get('b')!], [4]);
  assert.equal(globalNorm(mean), 6);
  const norm = clipGlobalNorm(mean, 3);
  assert.equal(norm, 6);
  assert.ok(Math.abs(globalNorm(mean) - 3) < 1e-5);
  const small = new Map([['a', Float32Array.of(0.1)]]);
  clipGlobalNorm(small, 3);
  assert.equal(small.get('a')![0], Math.fround(0.1), 'below the limit nothing changes');
  assert.ok(Number.isNaN(clipGlobalNorm(new Map([['a', Float32Array.of(NaN)]]), 1)), 'a NaN norm is reported, not hidden');
});

test('learning-rate schedules: constant, warm-up, linear and cosine decay', () => {
  const base = { baseLr: 1e-4, warmupSteps: 10, totalSteps: 110 };
  assert.equal(learningRateAt({ ...base, kind: 'constant' }, 0), 1e-4);
  assert.equal(learningRateAt({ ...base, kind: 'constant_with_warmup' }, 5), 5e-5);
  assert.equal(learningRateAt({ ...base, kind: 'constant_with_warmup' }, 50), 1e-4);
  assert.ok(Math.abs(learningRateAt({ ...base, kind: 'cosine' }, 60) - 5e-5) < 1e-12);
  assert.equal(learningRateAt({ ...base, kind: 'cosine' }, 110), 0);
  assert.ok(Math.abs(learningRateAt({ ...base, kind: 'linear' }, 35) - 7.5e-5) < 1e-12);
  assert.throws(() => learningRateAt({ kind: 'cosine', baseLr: 1, warmupSteps: 0 }, 3), /total step count/);
});

test('AdamW spread over two threads gives the one-thread result bit for bit, across a saved and loaded state', async () => {
  const shapes: Record<string, number> = { big: 700_001, other: 600_003, local: 50_000 };
  const make = () =>
    new Map(Object.entries(shapes).map(([name, length], k) => {
      const values = sequence(40 + k, length);
      // 'local' stays outside shared memory (it never leaves this thread); the others are shared as TrainingSession keeps them.
      if (name === 'local') return [name, values] as const;
      const sharedValues = new Float32Array(new SharedArrayBuffer(values.byteLength));
      sharedValues.set(values);
      return [name, sharedValues] as const;
    }));
  const gradientsAt = (t: number) => new Map(Object.entries(shapes).map(([name, length], k) => [name, sequence(1000 * t + k, length)] as const));
  const serial = make();
  const serialOptimizer = new AdamW({ weightDecay: 0.01 });
  for (let t = 1; t <= 5; t++) serialOptimizer.update(serial, gradientsAt(t), 1e-3 * t);

  const dir = mkdtempSync(join(tmpdir(), 'afa-adamw-'));
  try {
    const parallel = make();
    let optimizer = new AdamW({ weightDecay: 0.01 });
    let elsewhere = 0;
    for (let t = 1; t <= 5; t++) {
      elsewhere += await optimizer.updateInParallel(parallel, gradientsAt(t), 1e-3 * t);
      if (t === 3) {
        // A checkpoint in the middle: the loaded moments are shared memory again.
        const path = join(dir, 'optimizer.safetensors');
        saveOptimizerState(path, optimizer.state(), new Map(Object.entries(shapes).map(([name, length]) => [name, [length]])));
        optimizer = new AdamW({ weightDecay: 0.01 });
        optimizer.load(loadOptimizerState(path));
      }
    }
    // About half of the shared elements went to the inference thread at every step.
    const sharedElements = shapes.big! + shapes.other!;
    assert.ok(elsewhere > 5 * 0.45 * sharedElements && elsewhere < 5 * 0.6 * sharedElements, `elements updated elsewhere: ${elsewhere}`);
    for (const name of Object.keys(shapes)) {
      assert.ok(Buffer.from(parallel.get(name)!.buffer).equals(Buffer.from(serial.get(name)!.buffer)), `${name} differs`);
    }
    const [a, b] = [optimizer.state(), serialOptimizer.state()];
    for (const name of Object.keys(shapes)) {
      assert.ok(Buffer.from(a.exp_avg.get(name)!.buffer).equals(Buffer.from(b.exp_avg.get(name)!.buffer)), `exp_avg of ${name} differs`);
      assert.ok(Buffer.from(a.exp_avg_sq.get(name)!.buffer).equals(Buffer.from(b.exp_avg_sq.get(name)!.buffer)), `exp_avg_sq of ${name} differs`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
