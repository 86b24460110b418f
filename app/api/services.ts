// The server side of the API: composes the studio's real services over one studio home. Web mode
// (app/server) and the desktop engine process (main/engine-process.ts) both start exactly this.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { studioPaths } from '../common/paths.ts';
import { Library } from '../library/library.ts';
import { probeBackends } from '../runtime/backend-probe.ts';
import { setRuntimeLogFile } from '../runtime/runtime-log.ts';
import { AggregatorsService } from './aggregators-service.ts';
import { CompareService } from './compare-service.ts';
import { DemoService } from './demo-service.ts';
import type { StudioApi } from './contract.ts';
import { GenerationService } from './generation-service.ts';
import { HistoryService } from './history-service.ts';
import { ModelsService } from './models-service.ts';
import { PromptsService } from './prompts-service.ts';
import { RecipesService } from './recipes-service.ts';
import { SettingsService } from './settings-service.ts';
import { SystemService } from './system-service.ts';
import { TrainingService } from './training-service.ts';
import { EngineTurns } from '../pipeline/engine-turns.ts';

export interface StudioServicesConfig {
  /** The studio home (data directory). */
  readonly home: string;
  /** Settings file; default `<home>/settings.json`. */
  readonly settingsFile?: string;
  /** Web mode: the home is fixed by the command line. */
  readonly dataDirectoryFixed?: boolean;
  readonly version?: string;
  /** Memory a generation may need, bytes; default 80% of the machine's (app/pipeline/memory-estimate.ts). */
  readonly memoryBudgetBytes?: number;
  /**
   * The demo pack to set up in the background when the home wants the demo (a new, empty home). Absent or
   * null: no demo. The studio's entry points (desktop app, `afa serve`) pass
   * app/demo/demo-pack-location.ts demoPackDirectory(); tests that create services directly leave it out.
   */
  readonly demoPack?: string | null;
}

export interface StudioServices extends StudioApi {
  readonly settings: SettingsService;
  readonly system: SystemService;
  readonly demo: DemoService;
  /** Cancels running jobs and closes the library. */
  dispose(): Promise<void>;
}

export function createStudioServices(config: StudioServicesConfig): StudioServices {
  const paths = studioPaths(config.home);
  mkdirSync(paths.home, { recursive: true });
  // onnxruntime's own warnings are kept off the terminal; what the runtime did is logged here instead.
  setRuntimeLogFile(join(paths.home, 'logs', 'engine.log'));
  const settings = new SettingsService({
    file: config.settingsFile ?? join(paths.home, 'settings.json'),
    home: paths.home,
    dataDirectoryFixed: config.dataDirectoryFixed ?? false,
    listBackends: probeBackends,
  });
  const system = new SystemService({ version: config.version ?? '0.0.0', home: paths.home });
  const library = Library.open({ home: paths.home, appVersion: config.version });
  // Pick up images added or removed while the studio was closed (and finish interrupted trash moves):
  // rows whose image vanished are marked missing, images without a row are offered for import.
  const reconciled = library.reconcile();
  const history = new HistoryService({ library, reconciled });
  // Generations and training runs take turns on the engine (app/pipeline/engine-turns.ts).
  const turns = new EngineTurns();
  const generation = new GenerationService({ library, history, turns, settings: () => settings.current, providerChoiceFile: join(paths.home, 'provider-choice.json'), ...(config.memoryBudgetBytes ? { memoryBudgetBytes: config.memoryBudgetBytes } : {}) });
  const models = new ModelsService({ home: paths.home, library, inUse: (modelId) => generation.inUse(modelId) });
  const training = new TrainingService({ home: paths.home, turns, generationIdle: () => generation.whenIdle() });
  const recipes = new RecipesService(library);
  const aggregators = new AggregatorsService(library);
  const demo = new DemoService({
    home: paths.home,
    library,
    packDir: config.demoPack ?? null,
    onInstalled: () => {
      models.announce('import');
      aggregators.announce('import');
      recipes.announce('save');
    },
  });
  demo.start();
  return {
    models,
    recipes,
    aggregators,
    generation,
    compare: new CompareService(library, generation),
    history,
    prompts: new PromptsService(library),
    settings,
    system,
    training,
    demo,
    async dispose() {
      await demo.dispose();
      await training.dispose();
      await generation.dispose();
      models.cancelAll();
      await models.whenIdle();
      library.close();
    },
  };
}
