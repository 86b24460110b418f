// A training dataset from the studio's own history: a selection of generations (ids picked by hand,
// or what a History search finds — words and/or favourites), each image captioned with its prompt.
//
// A search is resolved into generation ids once, when the run is created, and the run keeps the ids:
// what the search would find later (new favourites, new images) never changes a run, so a resumed run
// trains on exactly the images the first start did.
import { existsSync } from 'node:fs';
import { UserError } from '../common/errors.ts';
import type { Library } from '../library/library.ts';
import type { GenerationQuery, GenerationRow } from '../library/generations-table.ts';
import { datasetFromItems, type DatasetProblem, type ImageDataset } from './image-dataset.ts';

export interface HistorySelection {
  /** These generations (in this order); when given, the search below is not used. */
  readonly ids?: readonly string[];
  /** Words of a History search (prompt, negative prompt, models, tags…). */
  readonly text?: string;
  readonly favouritesOnly?: boolean;
}

/** Rows fetched per page while resolving a search. */
const PAGE = 500;

/** Describes a selection in words, for run names and messages: 'favourites matching "cat"'. */
export function describeHistorySelection(selection: HistorySelection): string {
  if (selection.ids) return `${selection.ids.length} selected image${selection.ids.length === 1 ? '' : 's'}`;
  const text = selection.text?.trim();
  const what = selection.favouritesOnly ? 'favourites' : 'history';
  return text ? `${what} matching "${text}"` : selection.favouritesOnly ? 'favourites' : 'all of history';
}

/**
 * The generation ids a selection names now: the ids given, or every finished image (not in the trash)
 * the search finds, oldest first so that new images extend the list at its end.
 */
export function resolveHistorySelection(library: Library, selection: HistorySelection): string[] {
  if (selection.ids) return [...new Set(selection.ids)];
  const text = selection.text?.trim();
  const query: GenerationQuery = { status: 'done', ...(text ? { search: text } : {}), ...(selection.favouritesOnly ? { favourite: true } : {}) };
  const ids: string[] = [];
  let cursor: string | null | undefined;
  do {
    const page = library.generations.list({ ...query, limit: PAGE, ...(cursor ? { cursor } : {}) });
    for (const row of page.items) ids.push(row.id);
    cursor = page.nextCursor;
  } while (cursor);
  ids.reverse();
  if (ids.length === 0) {
    const what = selection.favouritesOnly ? 'favourite' : 'image';
    throw new UserError(
      'not-found',
      text ? `No ${what} in the history matches "${text}".` : `The history has no ${what}s.`,
      selection.favouritesOnly ? 'Mark some images as favourites (☆) in History first.' : text ? 'Change the search.' : 'Generate or import some images first.',
    );
  }
  return ids;
}

/**
 * The images of these generations as a dataset, captioned with their prompts. Generations that are
 * gone (deleted, in the trash, failed, their file missing) are listed as a problem and left out.
 */
export function historyDataset(library: Library, ids: readonly string[]): ImageDataset {
  const items: { path: string; caption: string; name: string }[] = [];
  const gone: string[] = [];
  for (const id of ids) {
    const row: GenerationRow | undefined = library.generations.get(id);
    const path = row?.imagePath ? library.absolutePath(row.imagePath) : undefined;
    if (!row || row.status !== 'done' || row.trashedAt !== null || !path || !existsSync(path)) {
      gone.push(id);
      continue;
    }
    items.push({ path, caption: row.settings.prompt.trim(), name: `${id}.png` });
  }
  if (items.length === 0) throw new UserError('not-found', `None of the ${ids.length} selected history images is still there.`, 'Restore them from the trash (Settings) or choose other images.');
  const dataset = datasetFromItems(items);
  const problems: DatasetProblem[] = gone.length > 0 ? [{ kind: 'history-missing-image', message: `${gone.length} selected history image(s) are no longer there (deleted, in the trash or their file is missing) and are left out.`, files: gone, blocking: false }] : [];
  return { ...dataset, problems };
}
