// What a generation runs on, and the seam through which ensembles plug into the engine. The engine knows
// how to run one imported model ('model'); app/ensemble registers a resolver for 'recipe' targets with
// `engine.registerTarget('recipe', resolver)`. A resolver turns a target into the loop's Denoiser and
// LatentDecoder plus the snapshot that history and the PNG record, so the loop never knows which it runs.
import type { JsonValue, RecipeSnapshot } from '../images/generation-settings.ts';
import type { SchedulerOverrides } from '../schedulers/scheduler-config.ts';
import type { Conditioning, Denoiser, LatentDecoder } from './denoiser.ts';
import type { ModelRuntime } from './model-runtime.ts';

export type GenerationTarget =
  /** One imported model, by its id (the checkpoint's SHA-256, app/checkpoints/model-store.ts). */
  | { readonly kind: 'model'; readonly modelId: string }
  /**
   * An ensemble recipe as plain JSON (app/ensemble/recipe.ts `Recipe`; its resolver validates it), and
   * the saved recipe's id when it came from the library.
   */
  | { readonly kind: 'recipe'; readonly recipe: unknown; readonly recipeId?: string };

export type TargetKind = GenerationTarget['kind'];

export interface ResolvedTarget {
  readonly denoiser: Denoiser<Conditioning>;
  readonly decoder: LatentDecoder;
  /** The models and method as they are now (names, hashes): copied into every image's settings. */
  readonly snapshot: RecipeSnapshot;
  /**
   * Model files the job runs, in order of first use (text encoders, U-Net or ensemble graph, VAE decoder):
   * loaded before the first image as the job's 'load' phase. Absent: sessions load when first run.
   */
  readonly models?: readonly string[];
  /** The model's noise schedule (diffusers scheduler_config fields); SD1.5's when absent. */
  readonly schedule?: SchedulerOverrides;
  /**
   * Settings to record with the image just generated (e.g. AFA's contribution maps), merged into its
   * `settings.extra`; called once per image, after its last step.
   */
  imageExtras?(): { readonly [key: string]: JsonValue } | undefined;
  /** Called once the job is over, whatever its outcome (unpin sessions, close files). */
  release?(): Promise<void>;
}

export interface ResolveContext {
  /** The studio home: the model store is studioPaths(home).models. */
  readonly home: string;
  /** Sessions shared by every job of the engine. */
  readonly runtime: ModelRuntime;
  readonly signal: AbortSignal;
}

/** Throws UserError for targets that cannot run (unknown model, invalid recipe). */
export type TargetResolver<T extends GenerationTarget = GenerationTarget> = (target: T, context: ResolveContext) => Promise<ResolvedTarget>;

/** The stored models a target runs (for the memory estimate before a job is accepted); throws for a target that cannot run. */
export type TargetModels<T extends GenerationTarget = GenerationTarget> = (target: T) => readonly string[];

/** A short text for queue lists and logs. */
export function describeTarget(target: GenerationTarget): string {
  if (target.kind === 'model') return `model ${target.modelId.slice(0, 10)}`;
  const recipe = target.recipe as { readonly name?: unknown; readonly method?: unknown } | null;
  const name = typeof recipe?.name === 'string' ? recipe.name : 'recipe';
  return typeof recipe?.method === 'string' ? `${name} (${recipe.method})` : name;
}
