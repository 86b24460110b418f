// The built-in demo on the server side: on a home that wants it (homeWantsDemo: a home with nothing of
// the person's own in it) the demo pack is installed in the background as soon as the services start
// (app/demo/demo-install.ts), with progress as events; the studio answers every call meanwhile. The
// Generate screen shows "Setting up the demo models…" until the status is ready, then opens on the demo
// recipe. Without a pack (a build without one, tests) nothing happens and the status says 'none'.
import { CancelledError } from '../common/errors.ts';
import { Emitter } from '../common/emitter.ts';
import { homeWantsDemo, installDemoPack } from '../demo/demo-install.ts';
import type { Library } from '../library/library.ts';
import { toErrorData } from './api-error.ts';
import type { DemoApi, DemoStatus } from './contract.ts';

export interface DemoServiceConfig {
  readonly home: string;
  readonly library: Library;
  /** The pack to install on a home that wants the demo; null: none (app/demo/demo-pack-location.ts). */
  readonly packDir: string | null;
  /** After an install added models, aggregators and a recipe: the services announce their lists changed. */
  readonly onInstalled?: () => void;
}

/** Progress events at most every this many thousandths (and at every new message), not per tensor. */
const PROGRESS_STEP = 10;

export class DemoService implements DemoApi {
  readonly #config: DemoServiceConfig;
  readonly #changed = new Emitter<DemoStatus>();
  readonly onDidChange = this.#changed.event;
  readonly #controller = new AbortController();
  #running: Promise<void> | undefined;
  #active = false;
  /** Set while installing or after a failure; otherwise the status is read from the library. */
  #current: DemoStatus | undefined;

  constructor(config: DemoServiceConfig) {
    this.#config = config;
  }

  /** Starts the background install when this home wants the demo, there is a pack, and none runs. */
  start(): void {
    if (this.#active || this.#controller.signal.aborted || !this.#wanted()) return;
    this.#active = true;
    this.#set({ state: 'installing', progress: { done: 0, total: 1000, message: 'Setting up the demo models' } });
    this.#running = this.#install().finally(() => {
      this.#active = false;
    });
  }

  async status(): Promise<DemoStatus> {
    return this.#current ?? this.#settled();
  }

  async retry(): Promise<DemoStatus> {
    this.start();
    return this.status();
  }

  /** Resolves when the install started by start() has ended (at once when none runs). */
  async whenSettled(): Promise<void> {
    await this.#running;
  }

  /** Cancels a running install (shutdown); what it finished stays, the next start does the rest. */
  async dispose(): Promise<void> {
    this.#controller.abort();
    await this.#running;
  }

  #wanted(): boolean {
    return this.#config.packDir !== null && homeWantsDemo(this.#config.library);
  }

  /** The status when no install runs: ready with the recipe while it exists, else none. */
  #settled(): DemoStatus {
    const { library } = this.#config;
    if (library.demoItems.pack().state !== 'installed') return { state: 'none' };
    const recipe = library.demoItems.get('recipe');
    const recipeId = recipe?.state === 'installed' && recipe.targetId && library.recipes.get(recipe.targetId) ? recipe.targetId : undefined;
    return { state: 'ready', ...(recipeId ? { recipeId } : {}) };
  }

  #set(status: DemoStatus | undefined): void {
    this.#current = status;
    this.#changed.fire(status ?? this.#settled());
  }

  async #install(): Promise<void> {
    // Let the services finish starting (the engine says it is ready) before the first file is read.
    await new Promise<void>((resolve) => setImmediate(resolve));
    let last = { done: -PROGRESS_STEP, message: '' };
    try {
      await installDemoPack(this.#config.home, this.#config.packDir!, {
        signal: this.#controller.signal,
        onProgress: (progress) => {
          const message = progress.message ?? 'Setting up the demo models';
          if (progress.done - last.done < PROGRESS_STEP && message === last.message && progress.done < progress.total) return;
          last = { done: progress.done, message };
          this.#set({ state: 'installing', progress: { done: progress.done, total: progress.total, message } });
        },
      }, { library: this.#config.library });
      this.#config.onInstalled?.();
      this.#set(undefined);
    } catch (error) {
      if (error instanceof CancelledError) {
        this.#current = undefined;
        return;
      }
      const data = toErrorData(error);
      if (data.code === 'engine' || data.code === 'internal') console.error('[engine] the demo models could not be set up:', error);
      // Whatever was finished stays; the home still wants the demo, so the next start tries again.
      this.#config.onInstalled?.();
      this.#set({ state: 'failed', error: data });
    }
  }
}
