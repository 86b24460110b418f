// The sampler of one image: a fresh instance per image (samplers keep multistep histories), made from
// the model's noise schedule and the request, with its timesteps already chosen.
import { createScheduler } from '../schedulers/registry.ts';
import type { Scheduler } from '../schedulers/scheduler.ts';
import type { SchedulerOverrides } from '../schedulers/scheduler-config.ts';
import type { GenerationSettings } from './generation-request.ts';

export function createSampler(settings: Pick<GenerationSettings, 'sampler' | 'steps' | 'eta'>, schedule: SchedulerOverrides = {}): Scheduler {
  // η is a DDIM config field here (diffusers passes it to step()); other samplers have no such field.
  const overrides: SchedulerOverrides = settings.sampler === 'ddim' ? { ...schedule, eta: settings.eta } : schedule;
  const scheduler = createScheduler(settings.sampler, overrides);
  scheduler.setTimesteps(settings.steps);
  return scheduler;
}
