// The one contract between the UI and the studio's services. The services implement `StudioApi` in Node
// (app/api/services.ts); the renderer gets the same interface through a transport (Electron IPC in the
// desktop app, HTTP + WebSocket in web mode). Rules that keep every transport generic:
// - every method takes at most one argument, a plain request object, and returns a Promise;
// - events are members named `onDidX`: they take a listener and return an `Unsubscribe`;
// - payloads are plain serialisable data (no class instances, no Dates, no typed arrays): times are ISO
//   8601 strings, durations are milliseconds, images are `ImageRef`s (a path below the studio home);
// - errors cross as `ApiErrorData` and become `ApiError`s again on the other side.
// This file holds types only, so the renderer can import it (`import type`) without pulling Node code.
import type { UserErrorCode } from '../common/errors.ts';

// ---------------------------------------------------------------------------------------------------
// Plumbing

export type Unsubscribe = () => void;
export type Listener<T> = (payload: T) => void;
/** An event member: `api.generation.onDidProgress((p) => ...)` returns the function that unsubscribes. */
export type ApiEvent<T> = (listener: Listener<T>) => Unsubscribe;

/** Machine-readable error codes: the user-error codes of app/common/errors.ts plus transport/engine ones. */
export type ApiErrorCode =
  | UserErrorCode
  /** The request did not match the method's schema (wrong field, wrong type, out of range). */
  | 'bad-request'
  /** The request (or upload) is larger than the studio accepts. */
  | 'too-large'
  /** No such method or event in the contract. */
  | 'unknown-method'
  /** The service behind this method is not available in this build yet, or its backend is missing. */
  | 'unavailable'
  /** Web mode: missing or wrong session token, or a request from another origin. */
  | 'unauthorized'
  | 'forbidden'
  /** The user cancelled the job. */
  | 'cancelled'
  /** The engine failed on valid input (onnxruntime error, out of memory). */
  | 'engine'
  /** The engine process crashed; it has been restarted. */
  | 'engine-crashed'
  /** A bug: anything that is neither the user's fault nor an engine failure. */
  | 'internal';

/** How an error crosses a boundary. `name` is the class it came from ('UserError', 'EngineError', ...). */
export interface ApiErrorData {
  readonly name: string;
  readonly code: ApiErrorCode;
  readonly message: string;
  /** What the user can do about it, when there is something. */
  readonly hint?: string;
}

/** A reference to an image file of the studio; the client turns it into a URL for its transport. */
export interface ImageRef {
  /** Relative to the studio home, '/'-separated, e.g. 'images/2025-01-31/0001-1234.png'. */
  readonly path: string;
  /** Pixels. */
  readonly width: number;
  readonly height: number;
}

/** Progress of a long job, as app/common/progress.ts reports it. */
export interface JobProgress {
  readonly jobId: string;
  readonly phase: string;
  readonly done: number;
  readonly total: number;
  readonly unit?: 'bytes' | 'steps' | 'tensors' | 'items';
  readonly message?: string;
}

export interface JobFailed {
  readonly jobId: string;
  readonly error: ApiErrorData;
  /** True when the user cancelled it (then `error.code` is 'cancelled'). */
  readonly cancelled: boolean;
  /** Generation jobs: the images of the batch saved before it ended (they are in history). */
  readonly generations?: readonly GenerationSummary[];
}

export interface JobStarted {
  readonly jobId: string;
}

// ---------------------------------------------------------------------------------------------------
// Models

export interface ModelInfo {
  readonly id: string;
  /** Display name; defaults to the file name without extension. */
  readonly name: string;
  /** The file (or folder) it was imported from. */
  readonly sourceName: string;
  /** SHA-256 of the source file, lowercase hex. */
  readonly sha256: string;
  /** Bytes on disk in the model store. */
  readonly sizeBytes: number;
  /** 'sd15' for Stable Diffusion 1.x; 'custom' for a checkpoint imported with its own config folder. */
  readonly architecture: string;
  /**
   * Precision the studio keeps the weights in (what runs): the same value `afa models` shows and
   * `afa import --precision` sets. fp32 unless asked otherwise, whatever the file's own precision.
   */
  readonly precision: 'fp32' | 'fp16';
  /** Precision of the imported file's weights. */
  readonly sourcePrecision: 'fp32' | 'fp16' | 'bf16' | 'mixed';
  readonly importedAt: string;
  /** One of the built-in demo's models (DemoApi): shown with a "Demo" badge; deleting it is remembered. */
  readonly demo?: boolean;
}

export type ImportSource =
  /** A file or diffusers folder on the machine that runs the services (desktop app, CLI). */
  | { readonly kind: 'path'; readonly path: string }
  /** A file uploaded to web mode's `/upload` route first (the browser cannot hand over a path). */
  | { readonly kind: 'upload'; readonly uploadId: string; readonly fileName: string };

export interface ImportModelRequest {
  readonly source: ImportSource;
  readonly name?: string;
  /**
   * A diffusers-style folder with `unet/config.json`, `text_encoder/config.json` and `vae/config.json`
   * describing the architecture, for checkpoints that are not standard SD1.x (e.g. tiny test models).
   */
  readonly configDirectory?: string;
}

export interface ImportFinished {
  readonly jobId: string;
  /** The first model imported (the only one, except for folders holding several). */
  readonly model: ModelInfo;
  /** Every model the job imported, in order (an official AFA folder: each of its experts). */
  readonly models: readonly ModelInfo[];
  /**
   * An official AFA folder also holds trained aggregators for exactly these models, in this order: the
   * UI offers to import them (AggregatorsApi.import with this request).
   */
  readonly aggregators?: ImportAggregatorsRequest;
}

export interface ModelsApi {
  list(): Promise<ModelInfo[]>;
  get(request: { id: string }): Promise<ModelInfo>;
  /** Starts an import job; progress and the outcome arrive as events with the returned job id. */
  import(request: ImportModelRequest): Promise<JobStarted>;
  cancelImport(request: { jobId: string }): Promise<void>;
  /** Fails with 'conflict' while a recipe or a queued job uses the model. */
  delete(request: { id: string }): Promise<void>;
  onDidImportProgress: ApiEvent<JobProgress>;
  onDidImportFinish: ApiEvent<ImportFinished>;
  onDidImportFail: ApiEvent<JobFailed>;
  /** The model list changed (import, delete). */
  onDidChange: ApiEvent<{ readonly reason: 'import' | 'delete' }>;
}

// ---------------------------------------------------------------------------------------------------
// Recipes: which checkpoints are ensembled and how

/**
 * - single: one model, no ensemble.
 * - afa: Adaptive Feature Aggregation — U-Nets in lock-step, a trained SABW aggregator fuses features.
 * - feature-average: the same lock-step fusion with fixed weights instead of an aggregator.
 * - output-average: weighted average of the U-Nets' noise predictions.
 * - merge: weighted average of the weights (one merged U-Net).
 * - mbw: merge block weighted: per-block merge ratios.
 * - magicfusion: saliency-aware noise blending (MagicFusion).
 */
export type EnsembleMethod = 'single' | 'afa' | 'feature-average' | 'output-average' | 'merge' | 'mbw' | 'magicfusion';

export interface RecipeMember {
  /** The imported model's id. */
  readonly modelId: string;
  /** Display name and short hash when the recipe was saved, so old history stays readable. */
  readonly name?: string;
  readonly shortHash?: string;
}

/** The same fields as app/ensemble/recipe.ts `Recipe` (less `version` and `name`). */
export interface RecipeSpec {
  readonly method: EnsembleMethod;
  /** 1 member for 'single'; 2 for 'mbw' and 'magicfusion'; 2–6 for the others. */
  readonly members: readonly RecipeMember[];
  /** Per-member weights ≥ 0 for output-average, merge and feature-average (normalised to sum 1). */
  readonly weights?: readonly number[];
  /** 'mbw' only: α per block IN00…IN11, M00, OUT00…OUT11 (25 values) and α for every other key. */
  readonly mbw?: { readonly blocks: readonly number[]; readonly base: number };
  /** 'magicfusion' only (app/ensemble/magic-fusion.ts documents each field and its default). */
  readonly magicFusion?: {
    readonly kappaA?: number;
    readonly kappaB?: number;
    readonly fusionStart?: number;
    readonly fusionEnd?: number;
    readonly leadModel?: 'a' | 'b';
    readonly mask?: 'hard' | 'soft';
  };
  /** 'afa' only: a trained aggregator set (AggregatorsApi); required to run AFA (untrained = use feature-average). */
  readonly aggregatorId?: string;
  /**
   * Settings offered when the recipe is picked; the built-in demo's recipe also carries a prompt that
   * works with it and the size and seed it was made for.
   */
  readonly defaults?: {
    readonly sampler?: SamplerName;
    readonly steps?: number;
    readonly guidance?: number;
    readonly prompt?: string;
    readonly negativePrompt?: string;
    readonly width?: number;
    readonly height?: number;
    readonly seed?: number;
  };
}

export interface Recipe extends RecipeSpec {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The built-in demo's recipe (DemoApi). */
  readonly demo?: boolean;
}

export interface SaveRecipeRequest {
  /** Absent: create a new recipe; present: replace that recipe. */
  readonly id?: string;
  readonly name: string;
  readonly spec: RecipeSpec;
}

export interface RecipesApi {
  list(): Promise<Recipe[]>;
  get(request: { id: string }): Promise<Recipe>;
  save(request: SaveRecipeRequest): Promise<Recipe>;
  delete(request: { id: string }): Promise<void>;
  onDidChange: ApiEvent<{ readonly reason: 'save' | 'delete' }>;
}

export interface AggregatorInfo {
  readonly id: string;
  readonly name: string;
  /** The experts it was trained for, in order; an 'afa' recipe must use exactly these models. */
  readonly memberModelIds: readonly string[];
  /** Aggregation points (25 for SD1.x). */
  readonly points: number;
  readonly createdAt: string;
  /** The built-in demo's aggregators (DemoApi). */
  readonly demo?: boolean;
}

export interface ImportAggregatorsRequest {
  /** A folder on the machine that runs the services: the official AFA layout or the studio's own. */
  readonly path: string;
  readonly name: string;
  /** The experts the set was trained for, in the order its channels expect them. */
  readonly memberModelIds: readonly string[];
}

export interface AggregatorsApi {
  list(): Promise<AggregatorInfo[]>;
  /** Copies a trained aggregator set into the studio (checked: it loads, and fits that many experts). */
  import(request: ImportAggregatorsRequest): Promise<AggregatorInfo>;
  delete(request: { id: string }): Promise<void>;
  /** The list changed (import, delete): recipe builders offer the new sets. */
  onDidChange: ApiEvent<{ readonly reason: 'import' | 'delete' }>;
}

// ---------------------------------------------------------------------------------------------------
// Generation

/** The names of app/pipeline/generation-request.ts SAMPLERS. */
export type SamplerName = 'ddim' | 'euler' | 'euler-a' | 'dpmpp-2m' | 'dpmpp-2m-karras' | 'pndm' | 'lms';

/** Either a saved recipe or an unsaved one built in the UI. */
export type RecipeRef = { readonly recipeId: string } | { readonly spec: RecipeSpec };

/** The fields of app/pipeline/generation-request.ts GenerationSettings, plus the recipe. */
export interface GenerationRequest {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly recipe: RecipeRef;
  readonly sampler: SamplerName;
  /** Denoising steps, 1–500. */
  readonly steps: number;
  /** Classifier-free guidance scale g, 0–50: eps = eps_u + g·(eps_c − eps_u); g ≤ 1 disables guidance. */
  readonly guidance: number;
  /** DDIM's η in [0, 1] (default 0); ignored by other samplers. */
  readonly eta?: number;
  /** Integer 0 … 2^53−1; null picks a random seed (the record stores the one used). Image i uses seed + i. */
  readonly seed: number | null;
  /** Pixels, multiples of 8, 64–2048. */
  readonly width: number;
  readonly height: number;
  /** Images per job, made one after another, 1–64. */
  readonly batchCount: number;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface QueuedJob {
  readonly id: string;
  readonly status: 'queued' | 'running';
  readonly request: GenerationRequest;
  /** Short text for the queue list, e.g. the recipe name and the start of the prompt. */
  readonly label: string;
  readonly enqueuedAt: string;
  /** Set while running. */
  readonly step?: number;
  readonly totalSteps?: number;
  /** Set when the job belongs to a comparison set. */
  readonly compareSetId?: string;
}

export interface GenerationProgress {
  readonly jobId: string;
  /** Denoising steps done (1-based once the first step finished) and in total; 'decode' follows the last step. */
  readonly step: number;
  readonly total: number;
  /**
   * 'waiting': a training run is finishing its current step (`training` says which and where; it then
   * pauses until the generation queue is empty); 'load': the job's models are loading (before the first
   * image; `models` counts them), then per image 'encode', 'denoise', 'decode'.
   */
  readonly phase: 'waiting' | 'load' | 'encode' | 'denoise' | 'decode';
  /** During 'waiting': the training run ahead of the job, and its step. */
  readonly training?: {
    readonly runId: string;
    readonly name: string;
    readonly step: number;
    readonly totalSteps: number;
    /** Set while the run prepares (e.g. 'Compiling the training graph'); step and total are then 0. */
    readonly preparing?: string;
  };
  /** During 'load': models loaded and to load ("Loading 3 models… 2/3"). */
  readonly models?: { readonly done: number; readonly total: number };
  readonly elapsedMs: number;
  /** Estimated time left; null until a step has been timed. */
  readonly etaMs: number | null;
  /** A small preview of the current latents as a PNG data URL (or an image URL), when previews are on. */
  readonly preview?: string;
  /** Which image of the batch this is: 1-based index and the batch's count ("image 2 of 3"). */
  readonly image?: { readonly index: number; readonly count: number };
}

export interface GenerationFinished {
  readonly jobId: string;
  readonly generations: readonly GenerationSummary[];
}

export interface GenerationApi {
  /** Adds a job to the end of the queue. */
  enqueue(request: GenerationRequest): Promise<JobStarted>;
  /** Queued and running jobs, the running one first. */
  queue(): Promise<QueuedJob[]>;
  /** Moves a queued job to `toIndex` among the queued jobs (0 = next to run). */
  reorder(request: { jobId: string; toIndex: number }): Promise<QueuedJob[]>;
  /** Removes a queued job (a running job is cancelled instead). */
  remove(request: { jobId: string }): Promise<void>;
  /** Cancels a running or queued job; the job then fails with `cancelled: true`. */
  cancel(request: { jobId: string }): Promise<void>;
  /**
   * Gets a recipe ready while the user writes the prompt (compiles it, loads its models) when nothing
   * runs, so Generate starts at the first step. Resolves when done or given up (`ready`: every model is
   * loaded); never fails for a recipe that cannot run — Generate says why.
   */
  prepare(request: { recipe: RecipeRef }): Promise<{ ready: boolean }>;
  /**
   * Reads the settings an image carries (PNG, JPEG or WebP from the studio or any popular generator)
   * and maps them onto a generation request: what maps is in `fill`, what does not is said in `notes`.
   * An upload is removed afterwards.
   */
  readImageSettings(request: { source: ImportSource }): Promise<ImageSettingsReading>;
  onDidStart: ApiEvent<JobStarted>;
  onDidProgress: ApiEvent<GenerationProgress>;
  onDidFinish: ApiEvent<GenerationFinished>;
  onDidFail: ApiEvent<JobFailed>;
  onDidChangeQueue: ApiEvent<{ readonly jobs: readonly QueuedJob[] }>;
}

/** An image's settings mapped onto the Generate form. */
export interface ImageSettingsReading {
  readonly fileName: string;
  /** The tool whose settings were read; 'none' when the image carries none. */
  readonly tool: GenerationSourceName;
  /** The tool's name in words ("ComfyUI"); null for 'none'. */
  readonly toolName: string | null;
  /** The request fields that map, only those present; `recipe` when the model (or recipe) is in the catalog. */
  readonly fill: Partial<Pick<GenerationRequest, 'prompt' | 'negativePrompt' | 'sampler' | 'steps' | 'guidance' | 'width' | 'height'>> & {
    readonly seed?: number;
    readonly recipe?: RecipeSpec;
  };
  /** What did not map, in words ("Made with an SDXL model (sd_xl_base_1.0), which the studio cannot run."). */
  readonly notes: readonly string[];
  /**
   * The Stable Diffusion 1.x model the image names when it is not in the catalog: the form keeps it as
   * its model, so Generate waits until it is imported or another model is picked.
   */
  readonly missingModel?: { readonly name?: string; readonly hash?: string };
  /** Everything the tool recorded, as labelled text, for showing. */
  readonly recorded: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------------------------------------------
// Comparison: the same seed and prompt across a recipe and each of its members

export interface CompareItem {
  /** 'Recipe' or the member model's name. */
  readonly label: string;
  readonly role: 'ensemble' | 'member';
  readonly modelId?: string;
  readonly jobId: string | null;
  /** Set once that image exists. */
  readonly generationId: string | null;
  readonly status: JobStatus;
}

export interface CompareSet {
  readonly id: string;
  readonly sourceGenerationId: string;
  readonly items: readonly CompareItem[];
}

export interface CompareApi {
  /** Re-runs a generation's settings with each member alone (the ensemble image is reused). */
  enqueue(request: { generationId: string }): Promise<CompareSet>;
  get(request: { id: string }): Promise<CompareSet>;
  onDidChange: ApiEvent<CompareSet>;
}

// ---------------------------------------------------------------------------------------------------
// History

export interface GenerationSummary {
  readonly id: string;
  readonly createdAt: string;
  readonly prompt: string;
  readonly method: EnsembleMethod;
  /** The recipe's name at generation time, or the single model's name. */
  readonly recipeName: string;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly thumbnail: ImageRef;
  readonly favourite: boolean;
  /** True when a contribution map was recorded (AFA generations with trained aggregators). */
  readonly hasContributions: boolean;
  /**
   * True when the image file vanished (found when the studio opened): the entry keeps its settings,
   * `thumbnail`/`image` may point at nothing, and the UI shows a placeholder.
   */
  readonly missing: boolean;
}

export interface GenerationRecord extends GenerationSummary {
  readonly image: ImageRef;
  /**
   * The request that makes this image again: its own seed (image i of a batch was made with the batch's
   * seed + i), batch count 1, the recipe inlined (so it still works after the saved recipe changed).
   */
  readonly request: GenerationRequest & { readonly seed: number; readonly recipe: { readonly spec: RecipeSpec } };
  /** Names of the models at generation time, by model id. */
  readonly modelNames: Readonly<Record<string, string>>;
  /** Position in the batch it was made in (informational; request.seed is already this image's seed). */
  readonly batchIndex: number;
  readonly durationMs: number;
  readonly tags: readonly string[];
  readonly compareSetId?: string;
  /**
   * Where the settings came from: 'afa-studio' for the studio's own images, else the tool whose metadata an
   * imported image carried, or 'none' when it had none.
   */
  readonly source: GenerationSourceName;
  /** For imported images: what the original tool recorded, as it wrote it (tool, sampler, model, LoRAs, every other key). */
  readonly imported?: Readonly<Record<string, string>>;
}

/** The tools whose settings the studio reads from images (app/images/imported-settings.ts SettingsSource), and 'none'. */
export type GenerationSourceName =
  | 'afa-studio'
  | 'automatic1111'
  | 'forge'
  | 'sd-next'
  | 'stability-matrix'
  | 'comfyui'
  | 'invokeai'
  | 'novelai'
  | 'fooocus'
  | 'ruinedfooocus'
  | 'swarmui'
  | 'draw-things'
  | 'diffusionbee'
  | 'none';

export interface HistoryQuery {
  /** Full-text search over prompt, negative prompt, recipe and model names and tags. */
  readonly text?: string;
  readonly favouritesOnly?: boolean;
  readonly method?: EnsembleMethod;
  readonly modelId?: string;
  readonly tag?: string;
  /** Created at or after this instant (ISO 8601). */
  readonly from?: string;
  /** Created before this instant (ISO 8601; exclusive). */
  readonly to?: string;
  /** From the previous page's `nextCursor`; absent for the first page. */
  readonly cursor?: string;
  /** Page size, 1–500 (default 100). Newest first. */
  readonly limit?: number;
}

export interface HistoryPage {
  readonly items: readonly GenerationSummary[];
  readonly nextCursor: string | null;
  /** Matches in total, for the scroll height of a virtualized grid. */
  readonly total: number;
}

/**
 * Which model dominated where, per recorded step (at most 10, the last always), for AFA generations.
 * `dominant` is base64 of a Uint8Array [height, width] (row-major) of member indexes into `members`;
 * `shares` are the mean fusion weights per member over the whole map (they sum to 1). `width`/`height`
 * are the latent's (the image's / 8); `step` is the 0-based denoising step.
 */
export interface ContributionMap {
  readonly generationId: string;
  readonly width: number;
  readonly height: number;
  readonly members: readonly { readonly modelId: string; readonly name: string }[];
  readonly steps: readonly { readonly step: number; readonly dominant: string; readonly shares: readonly number[] }[];
}

export interface ExportRequest {
  readonly ids: string[];
  /** Default: `exports/<date>` below the studio home. It must not hold files of the same names. */
  readonly directory?: string;
  /** Which settings files go along with the PNGs (default 'both': settings.json and settings.csv). */
  readonly settings?: 'json' | 'csv' | 'both';
}

export interface ExportResult {
  /** Absolute paths of the written PNGs (metadata included). */
  readonly files: readonly string[];
  /** Absolute paths of settings.json / settings.csv. */
  readonly settingsFiles: readonly string[];
  readonly directory: string;
  /** Selected generations that were not exported (their image is missing), with the reason. */
  readonly skipped: readonly { readonly id: string; readonly reason: string }[];
}

/** Images brought into history (PNG import or re-import of orphan files). */
export interface ImagesImported {
  /** Ids of the new history entries. */
  readonly ids: readonly string[];
  /** Files not imported, by name, with the reason in words. */
  readonly skipped: readonly { readonly file: string; readonly reason: string }[];
}

/**
 * What opening the studio found when it compared the history with the image folders. Nothing is dropped
 * silently: orphan files are offered for import, rows whose image vanished are kept and marked missing.
 */
export interface ReconcileSummary {
  /** Images below `images/` that no history entry refers to, relative to the studio home ('/'-separated). */
  readonly orphanFiles: readonly string[];
  /** History entries whose image file is missing. */
  readonly missingCount: number;
}

export interface TrashInfo {
  /** Generations in the studio trash (restorable with undo until the trash is emptied). */
  readonly count: number;
}

export interface HistoryApi {
  search(request: HistoryQuery): Promise<HistoryPage>;
  get(request: { id: string }): Promise<GenerationRecord>;
  setFavourite(request: { id: string; favourite: boolean }): Promise<GenerationRecord>;
  /** Replaces the generation's tags. */
  tag(request: { id: string; tags: string[] }): Promise<GenerationRecord>;
  /** Moves the generations to the trash; `undo` with the token restores them. */
  delete(request: { ids: string[] }): Promise<{ undoToken: string }>;
  undo(request: { undoToken: string }): Promise<void>;
  /** Copies the PNGs and a JSON/CSV of their settings to a folder (default: `exports/<date>` below the studio home). */
  export(request: ExportRequest): Promise<ExportResult>;
  /** Null when the generation has no recorded contributions. */
  contributions(request: { id: string }): Promise<ContributionMap | null>;
  /** Imports PNGs made here or by other tools (A1111, InvokeAI, ComfyUI metadata is read) into history. */
  importImages(request: { sources: ImportSource[] }): Promise<ImagesImported>;
  /** What the reconciliation at start-up found (orphan files not yet imported or dismissed). */
  reconcileReport(): Promise<ReconcileSummary>;
  /** Imports orphan files of `reconcileReport()` (only those) into history. */
  importOrphans(request: { paths: string[] }): Promise<ImagesImported>;
  /** Stops offering the orphan files (until the studio is opened again); the files stay where they are. */
  dismissOrphans(): Promise<void>;
  trashInfo(): Promise<TrashInfo>;
  /** Deletes everything in the trash for good (no undo after this). */
  emptyTrash(): Promise<{ removed: number }>;
  onDidChange: ApiEvent<{ readonly reason: 'add' | 'delete' | 'restore' | 'update'; readonly ids: readonly string[] }>;
}

// ---------------------------------------------------------------------------------------------------
// Prompt gallery

export interface PromptEntry {
  readonly id: string;
  readonly text: string;
  readonly negativePrompt: string;
  readonly tags: readonly string[];
  readonly createdAt: string;
  readonly uses: number;
  readonly lastUsedAt: string | null;
}

export interface PromptsApi {
  /** Most used first. */
  list(): Promise<PromptEntry[]>;
  search(request: { text?: string; tag?: string; limit?: number }): Promise<PromptEntry[]>;
  /** Absent id: create (or return the existing entry with the same text); present: update. */
  save(request: { id?: string; text: string; negativePrompt?: string; tags?: string[] }): Promise<PromptEntry>;
  tag(request: { id: string; tags: string[] }): Promise<PromptEntry>;
  delete(request: { id: string }): Promise<void>;
  /** Counts a use (the UI inserts the text) and returns the updated entry. */
  use(request: { id: string }): Promise<PromptEntry>;
  /**
   * CLIP tokens of a prompt (SD1.x tokenizer, without the start/end tokens). The text encoder sees at most
   * `max` (75) of them; the rest is cut off.
   */
  countTokens(request: { text: string }): Promise<TokenCount>;
}

export interface TokenCount {
  readonly tokens: number;
  readonly max: number;
}

// ---------------------------------------------------------------------------------------------------
// The built-in demo: small models the studio trained itself, set up on a fresh studio home

export interface DemoStatus {
  /**
   * - none: no demo on this home (the build has no demo pack, or the home already held the person's own
   *   work when the demo came);
   * - installing: being set up in the background (`progress`); the studio works meanwhile;
   * - ready: set up; `recipeId` is its recipe while the person keeps it (absent once they deleted it);
   * - failed: could not be set up (`error`); the next start tries again.
   */
  readonly state: 'none' | 'installing' | 'ready' | 'failed';
  readonly progress?: { readonly done: number; readonly total: number; readonly message: string };
  readonly recipeId?: string;
  readonly error?: ApiErrorData;
}

export interface DemoApi {
  status(): Promise<DemoStatus>;
  /** After a failure: sets the demo up again (the pack may have been repaired); answers the new status. */
  retry(): Promise<DemoStatus>;
  /** The status changed (progress while installing, then ready or failed). */
  onDidChange: ApiEvent<DemoStatus>;
}

// ---------------------------------------------------------------------------------------------------
// Settings and system

/** onnxruntime execution providers the studio knows. */
export type BackendName = 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';

export interface BackendInfo {
  readonly backend: BackendName;
  readonly label: string;
  readonly available: boolean;
  /** Why it is not available (no GPU, not in this onnxruntime build, other OS). */
  readonly reason?: string;
}

/**
 * The provider setting: one provider, or 'auto' — the fastest working provider, measured by a short
 * probe on first use and remembered per machine (app/runtime/provider-choice.ts). Default 'auto'.
 */
export type BackendSetting = 'auto' | BackendName;

export interface Settings {
  /** The studio home (models, images, library). Changing it takes effect after a restart. */
  readonly dataDirectory: string;
  readonly backend: BackendSetting;
  /** Intra-op threads for onnxruntime; 0 = automatic. */
  readonly threads: number;
  /** Step previews during generation (cost: one tiny VAE decode per step). */
  readonly previews: boolean;
  /**
   * What the models compute in: 'auto' (default) float16 on a GPU provider and float32 on the CPU;
   * 'fp32' always; 'fp16' everywhere (on the CPU only to check float16's numbers: it is slower there).
   */
  readonly precision: PrecisionSetting;
}

export type PrecisionSetting = 'auto' | 'fp32' | 'fp16';

export interface SettingsApi {
  get(): Promise<Settings>;
  set(request: Partial<Settings>): Promise<{ settings: Settings; restartRequired: boolean }>;
  listBackends(): Promise<BackendInfo[]>;
}

export interface SystemInfo {
  readonly version: string;
  readonly dataDirectory: string;
  readonly platform: string;
  /** CPU cores, for the threads setting. */
  readonly cpuCount: number;
}

export interface SystemApi {
  info(): Promise<SystemInfo>;
  /** Desktop app: the engine process crashed and was restarted; running jobs failed with 'engine-crashed'. */
  onDidEngineRestart: ApiEvent<{ readonly reason: string }>;
}

// ---------------------------------------------------------------------------------------------------
// The whole API and the names transports use

// ─── Training (AFA aggregators on the person's pictures; app/training) ───────────────────────────────

export interface TrainingSettingsInput {
  readonly resolution?: number;
  readonly steps?: number;
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly microBatch?: number;
  readonly lr?: number;
  readonly seed?: number;
  readonly captionDropout?: number;
  readonly validationShare?: number;
  readonly validationEvery?: number;
  readonly checkpointEvery?: number;
  readonly missingCaptions?: 'refuse' | 'use-file-name';
  readonly smallImages?: 'upscale' | 'skip';
  /** Learning-rate schedule (diffusers' names); warm-up steps for all but 'constant'. */
  readonly schedule?: 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';
  readonly warmupSteps?: number;
  /** Clip the global gradient norm to this; 0 = no clipping (the official recipe). */
  readonly maxGradNorm?: number;
  /** Sample images at each validation: these prompts, or the first `sampleCount` validation captions (default 2; 0 = none). */
  readonly samplePrompts?: readonly string[];
  readonly sampleCount?: number;
  /** Sampler steps per sample (DDIM; default 20). */
  readonly sampleSteps?: number;
  readonly sampleGuidance?: number;
  /** Sample i uses seed sampleSeed + i. */
  readonly sampleSeed?: number;
  /** Size of new aggregators; default the official SD1.5 one (hidden 128, 8 heads, 2 layers). Small models (the demo) use less. */
  readonly aggregatorSize?: { readonly hiddenSize: number; readonly numAttentionHeads: number; readonly numLayers: number };
}

/**
 * Images of the history as a dataset, their prompts as captions: these generations, or what a History
 * search finds (words and/or favourites), resolved into ids when the run is created.
 */
export interface TrainingHistorySelection {
  readonly ids?: readonly string[];
  readonly text?: string;
  readonly favouritesOnly?: boolean;
}

/** The images drawn at one validation step (fixed prompts and seeds, the aggregators of that step). */
export interface TrainingSamples {
  readonly step: number;
  readonly images: readonly { readonly prompt: string; readonly seed: number; readonly image: ImageRef }[];
}

export interface TrainingMetricPoint {
  readonly step: number;
  /** loss, smoothedLoss, lr on training steps; validationLoss, memberNValidationLoss, uniformValidationLoss on validations. */
  readonly [measure: string]: number;
}

export interface TrainingRunInfo {
  readonly id: string;
  readonly name: string;
  readonly status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  readonly memberModelIds: readonly string[];
  /** The dataset folder ('' for a history selection). */
  readonly dataPath: string;
  /** Where the images come from; a history selection with the number of images it resolved to. */
  readonly dataset: { readonly kind: 'folder'; readonly path: string } | { readonly kind: 'history'; readonly count: number; readonly text?: string; readonly favouritesOnly?: boolean; readonly picked?: boolean };
  /** The sample images of every validation so far, oldest first. */
  readonly samples: readonly TrainingSamples[];
  /** The resolved settings (the official recipe's defaults where none were given). */
  readonly settings: Readonly<Record<string, number | string | readonly number[] | readonly string[] | null>>;
  readonly metrics: readonly TrainingMetricPoint[];
  /** Images per training-graph call: the settings', or the one the run chose from free memory; null before it started. */
  readonly microBatch: number | null;
  readonly aggregatorId: string | null;
  readonly error: string | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

export interface DatasetPreview {
  readonly root: string;
  readonly layout: string;
  readonly count: number;
  /** The first items (at most 60), for the preview grid. */
  readonly items: readonly { readonly name: string; readonly path: string; readonly caption: string; readonly captionSource: string }[];
  readonly problems: readonly { readonly kind: string; readonly message: string; readonly files: readonly string[]; readonly blocking: boolean }[];
}

export type TrainingProgress =
  | { readonly runId: string; readonly kind: 'prepare'; readonly phase: string; readonly done: number; readonly total: number; readonly message?: string }
  | {
      readonly runId: string;
      readonly kind: 'step';
      readonly step: number;
      readonly totalSteps: number;
      readonly epoch: number;
      readonly loss: number;
      readonly smoothedLoss: number;
      readonly lr: number;
      readonly secondsPerStep: number;
      readonly etaSeconds: number;
      /** Images per training-graph call (the batch runs as batchSize / microBatch accumulated calls). */
      readonly microBatch: number;
    }
  | {
      /**
       * The run stopped after `step` to let queued generations run (`yielded`, with how many are queued),
       * or continues now that they are done; it computes exactly what it would have without the pause.
       * While the run prepares, `preparing` says what it does and step and total are 0.
       */
      readonly runId: string;
      readonly kind: 'turn';
      readonly yielded: boolean;
      readonly step: number;
      readonly totalSteps: number;
      readonly preparing?: string;
      readonly generations: number;
    }
  | {
      readonly runId: string;
      readonly kind: 'validation';
      readonly step: number;
      readonly loss: number;
      readonly members: readonly number[] | null;
      readonly uniformAverage: number | null;
      /** This validation's sample images (null when the run draws none). */
      readonly samples: TrainingSamples | null;
    };

export interface TrainingApi {
  list(): Promise<TrainingRunInfo[]>;
  get(request: { id: string }): Promise<TrainingRunInfo>;
  /** Reads a dataset (a folder, or a history selection): its images and captions and what is wrong with them. */
  previewDataset(request: { path?: string; history?: TrainingHistorySelection; missingCaptions?: 'refuse' | 'use-file-name' }): Promise<DatasetPreview>;
  /** Creates a run on a folder (`dataPath`) or a history selection (`history`) and queues it (one training at a time in the engine process). */
  start(request: { memberModelIds: string[]; dataPath?: string; history?: TrainingHistorySelection; settings?: TrainingSettingsInput; name?: string }): Promise<TrainingRunInfo>;
  /** Queues a cancelled or failed run again; it continues from its last checkpoint. */
  resume(request: { id: string }): Promise<TrainingRunInfo>;
  /** Stops a running run after its current step, writing a checkpoint (pause); resume continues it. */
  cancel(request: { id: string }): Promise<void>;
  delete(request: { id: string }): Promise<void>;
  onDidProgress: ApiEvent<TrainingProgress>;
  onDidChange: ApiEvent<{ readonly runId: string; readonly status: TrainingRunInfo['status'] }>;
}

export interface StudioApi {
  readonly models: ModelsApi;
  readonly recipes: RecipesApi;
  readonly aggregators: AggregatorsApi;
  readonly generation: GenerationApi;
  readonly compare: CompareApi;
  readonly history: HistoryApi;
  readonly prompts: PromptsApi;
  readonly settings: SettingsApi;
  readonly system: SystemApi;
  readonly training: TrainingApi;
  readonly demo: DemoApi;
}

export type ServiceName = keyof StudioApi;

type EventKeys<T> = { [K in keyof T]: K extends `onDid${string}` ? K : never }[keyof T] & string;
type MethodKeys<T> = Exclude<keyof T & string, EventKeys<T>>;

/** 'models.list', 'generation.enqueue', ... */
export type ApiMethodName = { [S in ServiceName]: `${S}.${MethodKeys<StudioApi[S]>}` }[ServiceName];
/** 'generation.onDidProgress', ... */
export type ApiEventName = { [S in ServiceName]: `${S}.${EventKeys<StudioApi[S]>}` }[ServiceName];

type Member<N extends string> = N extends `${infer S extends ServiceName}.${infer M}`
  ? M extends keyof StudioApi[S]
    ? StudioApi[S][M]
    : never
  : never;

/** The request of a method; `undefined` for methods without one. */
export type ApiRequest<N extends ApiMethodName> =
  Member<N> extends (...args: infer A) => unknown ? (A extends [] ? undefined : A[0]) : never;
export type ApiResponse<N extends ApiMethodName> = Member<N> extends (...args: never[]) => Promise<infer R> ? R : never;
export type ApiEventPayload<N extends ApiEventName> = Member<N> extends ApiEvent<infer P> ? P : never;

/** How a call's outcome crosses a transport. */
export type ApiResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiErrorData };

/** What a transport carries: calls by name and events by name. */
export interface ApiTransport {
  invoke<N extends ApiMethodName>(method: N, request: ApiRequest<N>): Promise<ApiResult<ApiResponse<N>>>;
  subscribe<N extends ApiEventName>(event: N, listener: Listener<ApiEventPayload<N>>): Unsubscribe;
}

/**
 * `window.afa` in the desktop app (main/preload.ts): the transport restricted to the contract's names,
 * plus the few things only the shell can do.
 */
export interface AfaBridge extends ApiTransport {
  /** The absolute path of a dropped or picked file (Electron's webUtils.getPathForFile). */
  pathForFile(file: File): string;
  /** Native folder picker; null when cancelled. */
  pickDirectory(): Promise<string | null>;
}
