// Every event of the contract by name, for transports that subscribe to all of them at once. Typed as a
// record over ApiEventName, so adding an `onDidX` to the contract without listing it here is a type error.
import type { ApiEventName } from './contract.ts';

const events: { readonly [E in ApiEventName]: true } = {
  'models.onDidImportProgress': true,
  'models.onDidImportFinish': true,
  'models.onDidImportFail': true,
  'models.onDidChange': true,
  'recipes.onDidChange': true,
  'aggregators.onDidChange': true,
  'generation.onDidStart': true,
  'generation.onDidProgress': true,
  'generation.onDidFinish': true,
  'generation.onDidFail': true,
  'generation.onDidChangeQueue': true,
  'compare.onDidChange': true,
  'history.onDidChange': true,
  'system.onDidEngineRestart': true,
  'training.onDidProgress': true,
  'training.onDidChange': true,
  'demo.onDidChange': true,
};

export const apiEventNames = Object.keys(events) as ApiEventName[];

export function isApiEventName(name: string): name is ApiEventName {
  return Object.hasOwn(events, name);
}
