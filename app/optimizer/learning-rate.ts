// Learning-rate schedules, as diffusers' get_scheduler builds them (optimization.py): the rate at a
// 0-based optimizer step for 'constant', 'constant_with_warmup', 'linear' and 'cosine' (linear warm-up
// from 0, then a half cosine down to 0 at totalSteps).
import { UserError } from '../common/errors.ts';

export type ScheduleKind = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';

export interface LearningRateSchedule {
  readonly kind: ScheduleKind;
  readonly baseLr: number;
  readonly warmupSteps: number;
  /** Needed by 'linear' and 'cosine'. */
  readonly totalSteps?: number;
}

export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['constant', 'constant_with_warmup', 'linear', 'cosine'];

export function learningRateAt(schedule: LearningRateSchedule, step: number): number {
  const { kind, baseLr, warmupSteps } = schedule;
  if (!SCHEDULE_KINDS.includes(kind)) throw new UserError('invalid-argument', `Unknown learning-rate schedule '${kind}'.`, `Use one of ${SCHEDULE_KINDS.join(', ')}.`);
  if (kind === 'constant') return baseLr;
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
  if (kind === 'constant_with_warmup') return baseLr;
  const total = schedule.totalSteps;
  if (total === undefined || total <= warmupSteps) throw new UserError('invalid-argument', `The '${kind}' schedule needs a total step count above the ${warmupSteps} warm-up steps.`);
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, total - warmupSteps));
  return kind === 'linear' ? baseLr * Math.max(0, 1 - progress) : baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
