// Naming an imported model on the command line: its full id (SHA-256), a unique start of it (at least
// 6 hex digits, as `afa models` shows 12), its AUTOMATIC1111 short hash, or its name (case-insensitive).
import { UserError } from '../common/errors.ts';
import { listStoredModels, type ModelManifest } from '../checkpoints/model-store.ts';

export function findModel(home: string, reference: string): ModelManifest {
  const models = listStoredModels(home);
  const wanted = reference.trim();
  const lower = wanted.toLowerCase();
  const exact = models.find((model) => model.id === lower);
  if (exact) return exact;
  const matches = (/^[0-9a-f]{6,}$/.test(lower) ? models.filter((model) => model.id.startsWith(lower)) : [])
    .concat(models.filter((model) => model.name.toLowerCase() === lower));
  const unique = [...new Map(matches.map((model) => [model.id, model])).values()];
  if (unique.length === 1) return unique[0]!;
  if (unique.length > 1) {
    throw new UserError(
      'invalid-argument',
      `'${wanted}' matches ${unique.length} models: ${unique.map((model) => `${model.name} (${model.id.slice(0, 12)})`).join(', ')}.`,
      'Give more of the id.',
    );
  }
  const hint = models.length === 0 ? 'No model is imported yet: run `afa import <checkpoint>` first.' : 'Run `afa models` to list the imported models and their ids.';
  throw new UserError('not-found', `No imported model matches '${wanted}'.`, hint);
}
