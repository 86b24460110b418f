// The settings one image carries (in its PNG and its history row, app/images/generation-settings.ts),
// and the way back: from those settings to a request that makes the same image again. An image records
// its own seed (the batch's seed + its index), so it is reproduced alone with batch count 1.
import { UserError } from '../common/errors.ts';
import type { GenerationSettings as ImageSettings, JsonValue, RecipeSnapshot } from '../images/generation-settings.ts';
import type { SchedulerConfig } from '../schedulers/scheduler-config.ts';
import { imageSeed, SAMPLERS, type GenerationInput, type GenerationSettings, type SamplerName } from './generation-request.ts';
import type { GenerationTarget } from './generation-target.ts';

/** Names the initial-noise algorithm (app/schedulers/noise.ts), in case a later version changes it. */
export const NOISE_ALGORITHM = 'philox4x32-10-box-muller/v1';

export function imageRecordSettings(
  settings: GenerationSettings,
  index: number,
  snapshot: RecipeSnapshot,
  scheduler: Readonly<SchedulerConfig>,
  extras: { readonly [key: string]: JsonValue } = {},
): ImageSettings {
  return {
    prompt: settings.prompt,
    negativePrompt: settings.negativePrompt,
    seed: imageSeed(settings, index),
    steps: settings.steps,
    guidance: settings.guidance,
    sampler: settings.sampler,
    width: settings.width,
    height: settings.height,
    batchIndex: index,
    recipe: snapshot,
    extra: {
      eta: settings.eta,
      noise: NOISE_ALGORITHM,
      // The full sampler config (noise schedule included) as plain JSON; every field is a number, string,
      // boolean, null or list of numbers (scheduler-config.ts keeps -Infinity out of it).
      scheduler: JSON.parse(JSON.stringify(scheduler)) as JsonValue,
      ...extras,
    },
  };
}

/** What to run to make an image from its recorded settings again. */
export function targetOfSnapshot(snapshot: RecipeSnapshot): GenerationTarget {
  // A recorded recipe document goes back to the resolver that wrote it, even for one model.
  if (snapshot.document !== undefined && snapshot.document !== null) {
    return { kind: 'recipe', recipe: snapshot.document, ...(snapshot.recipeId ? { recipeId: snapshot.recipeId } : {}) };
  }
  const [first] = snapshot.members;
  if (snapshot.method === 'single' && snapshot.members.length === 1 && first?.modelId) return { kind: 'model', modelId: first.modelId };
  throw new UserError(
    'unsupported',
    `The image was made with a '${snapshot.method}' recipe whose document was not recorded, so it cannot be rebuilt.`,
    'Pick the models again and pass the settings by hand.',
  );
}

/** The request that reproduces an image from its recorded settings (validate it as any other input). */
export function inputOfRecord(record: ImageSettings): GenerationInput {
  if (!(SAMPLERS as readonly string[]).includes(record.sampler)) {
    throw new UserError('unsupported', `The image was made with sampler '${record.sampler}', which this studio does not have.`, `Choose one of: ${SAMPLERS.join(', ')}.`);
  }
  const eta = record.extra?.eta;
  return {
    prompt: record.prompt,
    negativePrompt: record.negativePrompt,
    seed: record.seed,
    steps: record.steps,
    guidance: record.guidance,
    sampler: record.sampler as SamplerName,
    width: record.width,
    height: record.height,
    batchCount: 1,
    ...(typeof eta === 'number' ? { eta } : {}),
  };
}
