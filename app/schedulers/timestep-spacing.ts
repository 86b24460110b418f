// The numpy building blocks diffusers 0.20.2 picks inference timesteps with, reproduced to the last bit
// (the golden timesteps are compared exactly): np.linspace, np.arange with a float step, np.round
// (round half to even). Each sampler composes them the way its diffusers class does; they differ in
// small ways (rounding or not, n or n + 1 points), so the composition stays in the sampler's file.
import { UserError } from '../common/errors.ts';

/** np.round / np.rint: nearest integer, ties to even. */
export function roundHalfEven(value: number): number {
  const rounded = Math.round(value);
  return rounded - value === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
}

/** np.linspace(start, stop, num) (endpoint included): i·step + start, last element exactly `stop`. */
export function numpyLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const values = Array.from({ length: num }, (_, i) => i * step + start);
  values[num - 1] = stop;
  return values;
}

/**
 * np.arange(start, stop, step) for float arguments: ⌈(stop − start) / step⌉ values start + i·δ, where
 * numpy's fill uses δ = (start + step) − start rather than `step` itself.
 */
export function numpyArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  return Array.from({ length }, (_, i) => start + i * delta);
}

/**
 * 'leading' (DDIM/PNDM/Euler/LMS): (arange(n) · ⌊T / n⌋) + offset, descending. With SD's offset 1 and
 * n = T the first timestep would be T, past the table (diffusers fails there with an IndexError), so
 * such step counts are refused.
 */
export function leadingTimesteps(trainSteps: number, steps: number, offset: number): number[] {
  const ratio = Math.floor(trainSteps / steps);
  const first = (steps - 1) * ratio + offset;
  if (first > trainSteps - 1) {
    let limit = steps - 1;
    while (limit > 1 && (limit - 1) * Math.floor(trainSteps / limit) + offset > trainSteps - 1) limit--;
    throw new UserError(
      'invalid-argument',
      `Cannot sample with ${steps} steps: with 'leading' spacing and steps offset ${offset} the first timestep would be ${first}, past the last trained timestep ${trainSteps - 1}.`,
      `Choose at most ${limit} steps.`,
    );
  }
  return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + offset);
}

/** 'trailing': round(arange(T, 0, −T / n)) − 1, descending (ends near T / n − 1, starts at T − 1). */
export function trailingTimesteps(trainSteps: number, steps: number): number[] {
  return numpyArange(trainSteps, 0, -trainSteps / steps).map((t) => roundHalfEven(t) - 1);
}

/** Throws a UserError unless `steps` is a whole number from 1 to `trainSteps`. */
export function checkStepCount(steps: number, trainSteps: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > trainSteps) {
    throw new UserError(
      'invalid-argument',
      `Cannot sample with ${steps} steps: the model was trained with ${trainSteps} timesteps.`,
      `Choose a whole number of steps from 1 to ${trainSteps} (20–50 is typical).`,
    );
  }
}
