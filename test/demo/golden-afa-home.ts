// A studio home with the golden tiny AFA ensemble: the three tiny experts imported, the golden trained
// aggregators imported for them, and an AFA recipe saved in the library — what the demo install leaves
// in a home, at golden size. Nothing from ../shared is copied into the repository (folders are links).
import { Library } from '../../app/library/library.ts';
import { importCheckpoint } from '../../app/checkpoints/import-checkpoint.ts';
import type { ModelManifest } from '../../app/checkpoints/model-store.ts';
import { importAggregators } from '../../app/ensemble/import-aggregators.ts';
import { validateRecipe } from '../../app/ensemble/recipe.ts';
import type { JsonValue } from '../../app/images/generation-settings.ts';
import { goldenAfaDir, goldenExpertFolders } from '../ensemble/golden-experts.ts';

export const GOLDEN_RECIPE_NAME = 'Golden AFA';

export async function goldenAfaHome(home: string): Promise<{ manifests: ModelManifest[]; aggregatorId: string }> {
  const library = Library.open({ home });
  try {
    const manifests: ModelManifest[] = [];
    for (const folder of goldenExpertFolders(home)) manifests.push((await importCheckpoint(folder, { home, catalog: library.models })).manifest);
    const aggregatorId = importAggregators(goldenAfaDir, manifests, { home }).id;
    const recipe = validateRecipe({
      name: GOLDEN_RECIPE_NAME,
      method: 'afa',
      members: manifests.map((m) => ({ modelId: m.id, name: m.name })),
      aggregatorId,
      defaults: { sampler: 'ddim', steps: 4, guidance: 4 },
    });
    library.recipes.insert(recipe.name, recipe as unknown as JsonValue);
    return { manifests, aggregatorId };
  } finally {
    library.close();
  }
}
