// A diffusers/transformers `tokenizer/` folder: vocab.json and merges.txt, plus the special tokens and
// model_max_length of tokenizer_config.json, overridden by special_tokens_map.json (the precedence of
// transformers' `from_pretrained`). Tokens are given either as strings or as AddedToken objects
// `{ "content": ..., "lstrip": ..., ... }`; only the content matters here.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import type { ClipTokenizerOptions } from './clip-tokenizer.ts';

export interface TokenizerFolder {
  readonly vocabJsonPath: string;
  readonly mergesTxtPath: string;
  readonly options: ClipTokenizerOptions;
}

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const;
type SpecialKey = (typeof SPECIAL_KEYS)[number];

function readJsonObject(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new UserError('corrupt-file', `${path} is not valid JSON.`, 'Restore the file from the original model.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserError('corrupt-file', `${path} is not a JSON object.`, 'Restore the file from the original model.');
  }
  return parsed as Record<string, unknown>;
}

/** A token given as a string or as an AddedToken dict; undefined when absent or null. */
function tokenContent(value: unknown, key: string, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  throw new UserError('corrupt-file', `${path} has an unreadable ${key}: ${JSON.stringify(value)}.`, 'Restore the file from the original model.');
}

export function readTokenizerFolder(directory: string): TokenizerFolder {
  const vocabJsonPath = join(directory, 'vocab.json');
  const mergesTxtPath = join(directory, 'merges.txt');
  for (const path of [vocabJsonPath, mergesTxtPath]) {
    if (!existsSync(path)) {
      throw new UserError(
        'not-found',
        `${directory} is not a CLIP tokenizer folder: ${path} is missing.`,
        'Point to the tokenizer/ folder of a diffusers model (vocab.json, merges.txt).',
      );
    }
  }
  const configPath = join(directory, 'tokenizer_config.json');
  const mapPath = join(directory, 'special_tokens_map.json');
  const config = readJsonObject(configPath) ?? {};
  const map = readJsonObject(mapPath) ?? {};
  const tokens: Partial<Record<SpecialKey, string>> = {};
  for (const key of SPECIAL_KEYS) {
    const fromMap = tokenContent(map[key], key, mapPath);
    const token = fromMap ?? tokenContent(config[key], key, configPath);
    if (token !== undefined) tokens[key] = token;
  }
  let maxLength = config.model_max_length;
  // transformers writes int(1e30) ("no limit") when it knows none: treat it as absent.
  if (typeof maxLength === 'number' && maxLength > 1e6) maxLength = undefined;
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || (maxLength as number) < 2)) {
    throw new UserError('corrupt-file', `${configPath} has model_max_length ${JSON.stringify(maxLength)}.`, 'SD1.x tokenizers use 77.');
  }
  return {
    vocabJsonPath,
    mergesTxtPath,
    options: {
      bosToken: tokens.bos_token,
      eosToken: tokens.eos_token,
      padToken: tokens.pad_token,
      unkToken: tokens.unk_token,
      // Folders without model_max_length would get transformers' "unlimited"; SD1.x text encoders have
      // 77 positions, so 77 is the only useful default.
      maxLength: maxLength as number | undefined,
    },
  };
}
