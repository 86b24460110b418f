// The prompt gallery over the library's prompts table (FTS search, tags, use counts).
import type { Library } from '../library/library.ts';
import type { PromptRow } from '../library/prompts-table.ts';
import { ApiError } from './api-error.ts';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import type { PromptEntry, PromptsApi, TokenCount } from './contract.ts';

export function promptEntry(row: PromptRow): PromptEntry {
  return {
    id: row.id,
    text: row.prompt,
    negativePrompt: row.negativePrompt,
    tags: row.tags,
    createdAt: new Date(row.createdAt).toISOString(),
    uses: row.useCount,
    lastUsedAt: row.lastUsedAt === null ? null : new Date(row.lastUsedAt).toISOString(),
  };
}

/** The gallery shows prompts by their text; the table wants a title, so the start of the text is one. */
function titleOf(text: string): string {
  const line = text.trim().split('\n')[0]!;
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

export class PromptsService implements PromptsApi {
  readonly #library: Library;

  constructor(library: Library) {
    this.#library = library;
  }

  async list(): Promise<PromptEntry[]> {
    return this.#library.prompts.list({ order: 'popular', limit: 500 }).map(promptEntry);
  }

  async search(request: { text?: string; tag?: string; limit?: number }): Promise<PromptEntry[]> {
    return this.#library.prompts
      .list({
        ...(request.text ? { search: request.text } : {}),
        ...(request.tag ? { tag: request.tag } : {}),
        order: 'popular',
        limit: request.limit ?? 100,
      })
      .map(promptEntry);
  }

  async save(request: { id?: string; text: string; negativePrompt?: string; tags?: string[] }): Promise<PromptEntry> {
    const prompts = this.#library.prompts;
    const fields = { title: titleOf(request.text), prompt: request.text, negativePrompt: request.negativePrompt ?? '', ...(request.tags ? { tags: request.tags } : {}) };
    if (request.id) return promptEntry(prompts.update(request.id, fields));
    // Saving the same text again updates that entry (tags, negative prompt) instead of duplicating it.
    const same = prompts.list({ search: request.text, limit: 50 }).find((row) => row.prompt === request.text);
    return promptEntry(same ? prompts.update(same.id, fields) : prompts.insert(fields));
  }

  async tag(request: { id: string; tags: string[] }): Promise<PromptEntry> {
    return promptEntry(this.#library.prompts.update(request.id, { tags: request.tags }));
  }

  async delete(request: { id: string }): Promise<void> {
    if (!this.#library.prompts.remove(request.id)) throw new ApiError('not-found', `There is no saved prompt ${request.id}.`);
  }

  async use(request: { id: string }): Promise<PromptEntry> {
    return promptEntry(this.#library.prompts.markUsed(request.id));
  }

  // The bundled SD1.x vocabulary: every SD1.x checkpoint shares it, and the 77-token window (75 between
  // start and end) is the text encoder's, so the count is right for any recipe the studio runs.
  async countTokens(request: { text: string }): Promise<TokenCount> {
    const tokenizer = ClipTokenizer.default();
    return { tokens: tokenizer.countTokens(request.text), max: tokenizer.maxPromptTokens };
  }
}
