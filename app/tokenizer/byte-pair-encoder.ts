// CLIP's BPE merge loop (openai/CLIP `SimpleTokenizer.bpe`, transformers `CLIPTokenizer.bpe`): a word is
// split into characters with '</w>' glued to the last one, then the adjacent pair with the lowest merge
// rank is merged everywhere (left to right, non-overlapping) until no ranked pair is left. Results are
// cached per word: prompts repeat words, and a word costs O(length² · merges found) to encode.

export interface MergeRule {
  readonly first: string;
  readonly second: string;
}

/** Word-level cache bound: enough for every distinct word of a long session's prompts. */
const CACHE_LIMIT = 20_000;

/** Tokens never split by BPE (the cache of both upstream implementations starts with them). */
const UNSPLIT = ['<|startoftext|>', '<|endoftext|>'];

export class BytePairEncoder {
  /** `${first} ${second}` → rank (line number in merges.txt, 0-based). Tokens never contain ' '. */
  private readonly ranks: ReadonlyMap<string, number>;
  private readonly cache = new Map<string, readonly string[]>();

  constructor(merges: readonly MergeRule[]) {
    // A repeated rule keeps its last rank, as Python's dict(zip(merges, range(n))) does.
    const ranks = new Map<string, number>();
    merges.forEach((merge, rank) => ranks.set(`${merge.first} ${merge.second}`, rank));
    this.ranks = ranks;
  }

  get mergeCount(): number {
    return this.ranks.size;
  }

  /** BPE tokens of one pre-token already spelled in the byte alphabet. */
  encode(word: string): readonly string[] {
    const cached = this.cache.get(word);
    if (cached) {
      // Refresh recency so frequently used words survive eviction.
      this.cache.delete(word);
      this.cache.set(word, cached);
      return cached;
    }
    const tokens = UNSPLIT.includes(word) ? [word] : this.merge(word);
    if (this.cache.size >= CACHE_LIMIT) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(word, tokens);
    return tokens;
  }

  private merge(word: string): string[] {
    const chars = [...word];
    if (chars.length === 0) return [];
    let parts = [...chars.slice(0, -1), `${chars[chars.length - 1]}</w>`];
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let index = 0; index + 1 < parts.length; index += 1) {
        const rank = this.ranks.get(`${parts[index]} ${parts[index + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = index;
        }
      }
      if (best === -1) break;
      const first = parts[best];
      const second = parts[best + 1];
      const merged: string[] = [];
      for (let index = 0; index < parts.length; ) {
        if (parts[index] === first && index + 1 < parts.length && parts[index + 1] === second) {
          merged.push(first + second);
          index += 2;
        } else {
          merged.push(parts[index]);
          index += 1;
        }
      }
      parts = merged;
    }
    return parts;
  }
}
