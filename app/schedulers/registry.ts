// Making samplers by name. A sampler is stateful, so each generation creates its own:
//   const scheduler = createScheduler('dpmpp-2m-karras', fields); scheduler.setTimesteps(25);
// and history stores `scheduler.config`, from which `schedulerFromConfig` makes the same sampler again.
import { DdimScheduler } from './ddim-scheduler.ts';
import { DpmSolverMultistepScheduler } from './dpm-solver-multistep-scheduler.ts';
import { EulerAncestralScheduler } from './euler-ancestral-scheduler.ts';
import { EulerScheduler } from './euler-scheduler.ts';
import { LmsScheduler } from './lms-scheduler.ts';
import { PndmScheduler } from './pndm-scheduler.ts';
import type { Scheduler } from './scheduler.ts';
import {
  resolveSchedulerConfig,
  type SchedulerConfig,
  type SchedulerName,
  type SchedulerOverrides,
} from './scheduler-config.ts';

export { SCHEDULER_NAMES, type SchedulerName } from './scheduler-config.ts';

/**
 * A fresh sampler `name` for the noise schedule in `overrides` (fields of the model's
 * scheduler_config.json, see diffusers-config.ts; SD1.5's when absent). Throws UserError for an unknown
 * name or invalid fields.
 */
export function createScheduler(name: SchedulerName, overrides: SchedulerOverrides = {}): Scheduler {
  return construct(resolveSchedulerConfig(name, overrides));
}

/** The sampler a stored config describes (validated again: it may come from an old history entry). */
export function schedulerFromConfig(config: SchedulerConfig): Scheduler {
  return construct(resolveSchedulerConfig(config.sampler, config));
}

function construct(config: SchedulerConfig): Scheduler {
  switch (config.sampler) {
    case 'ddim':
      return new DdimScheduler(config);
    case 'euler':
      return new EulerScheduler(config);
    case 'euler-a':
      return new EulerAncestralScheduler(config);
    case 'dpmpp-2m':
    case 'dpmpp-2m-karras':
      return new DpmSolverMultistepScheduler(config);
    case 'pndm':
      return new PndmScheduler(config);
    case 'lms':
      return new LmsScheduler(config);
  }
}

/** Whether the sampler adds random noise at each step (so StepOptions need a seed or noise). */
export function isStochastic(config: SchedulerConfig): boolean {
  return config.sampler === 'euler-a' || (config.sampler === 'ddim' && config.eta > 0);
}
