// Truncation, padding, special-token strings inside prompts, batches, decoding and tokenizer folders.
// Expected ids follow transformers' CLIPTokenizer: bos + ids[:maxLength-2] + eos, then pad ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../app/common/errors.ts';
import { ClipTokenizer } from '../../app/tokenizer/clip-tokenizer.ts';
import { fullTokenizerDir, tinyTokenizerDir } from './golden-tokenizer-data.ts';

const clip = ClipTokenizer.fromDiffusersFolder(fullTokenizerDir);
const BOS = 49406;
const EOS = 49407;
const CAT = 2368; // 'cat</w>'

function repeat<T>(value: T, count: number): T[] {
  return Array.from({ length: count }, () => value);
}

test('config of the SD1.5 folder', () => {
  assert.deepEqual(
    { ...clip.config, source: undefined },
    {
      source: undefined,
      vocabSize: 49408,
      mergeCount: 48894,
      maxLength: 77,
      bosToken: '<|startoftext|>',
      bosTokenId: BOS,
      eosToken: '<|endoftext|>',
      eosTokenId: EOS,
      padToken: '<|endoftext|>',
      padTokenId: EOS,
      unkToken: '<|endoftext|>',
      unkTokenId: EOS,
    },
  );
  assert.equal(clip.maxPromptTokens, 75);
});

test('an empty or blank prompt is bos, eos and padding', () => {
  for (const text of ['', '   \n\t  ', '\ufeff\u0007']) {
    const encoded = clip.encode(text);
    assert.deepEqual(encoded.inputIds, [BOS, ...repeat(EOS, 76)]);
    assert.deepEqual(encoded.attentionMask, [1, 1, ...repeat(0, 75)]);
    assert.equal(encoded.untruncatedLength, 2);
    assert.equal(clip.countTokens(text), 0);
  }
});

test('exactly 75 prompt tokens fill the sequence without padding', () => {
  const text = repeat('cat', 75).join(' ');
  const encoded = clip.encode(text);
  assert.deepEqual(encoded.inputIds, [BOS, ...repeat(CAT, 75), EOS]);
  assert.deepEqual(encoded.attentionMask, repeat(1, 77));
  assert.equal(encoded.untruncatedLength, 77);
  assert.equal(clip.countTokens(text), 75);
});

test('76 and 200 prompt tokens are cut to 75, still ending with eos', () => {
  for (const count of [76, 200]) {
    const text = repeat('cat', count).join(' ');
    const encoded = clip.encode(text);
    assert.deepEqual(encoded.inputIds, [BOS, ...repeat(CAT, 75), EOS]);
    assert.deepEqual(encoded.attentionMask, repeat(1, 77));
    assert.equal(encoded.untruncatedLength, count + 2);
    assert.equal(clip.countTokens(text), count);
  }
});

test('truncation cuts ids, even inside a word of several tokens', () => {
  const word = 'supercalifragilisticexpialidocious';
  const wordIds = clip.tokenIds(word);
  assert.ok(wordIds.length > 2);
  const encoded = clip.encode(`${repeat('cat', 74).join(' ')} ${word}`);
  assert.deepEqual(encoded.inputIds, [BOS, ...repeat(CAT, 74), wordIds[0], EOS]);
  assert.equal(encoded.untruncatedLength, 74 + wordIds.length + 2);
});

test('special-token strings in a prompt become their ids', () => {
  assert.deepEqual(clip.tokenize('a <|startoftext|> b<|endoftext|>c'), ['a</w>', '<|startoftext|>', 'b</w>', '<|endoftext|>', 'c</w>']);
  assert.deepEqual(clip.tokenIds('a <|startoftext|> b'), [320, BOS, 321]);
  // Not split by the exact-match pass, but lowercased and then matched by CLIP's pattern.
  assert.deepEqual(clip.tokenIds('<|ENDOFTEXT|>'), [EOS]);
  // ftfy turns the entities into the special string before the pattern runs.
  assert.deepEqual(clip.tokenIds('x &lt;|endoftext|&gt;'), [343, EOS]);
  // An incomplete special string is ordinary text.
  assert.ok(!clip.tokenIds('<|startoftext').includes(BOS));
});

test('each piece between special tokens is fixed on its own, as transformers does', () => {
  // Fixed together, the '<' of the special string would stop ftfy from decoding '&amp;'.
  assert.deepEqual(clip.tokenize('Ã©<|endoftext|>&amp;'), ['Ã©</w>', '<|endoftext|>', '&</w>']);
});

test('encodeBatch gives int64 [batch, 77]', () => {
  const batch = clip.encodeBatch(['a photo of a cat', '']);
  assert.equal(batch.dtype, 'int64');
  assert.deepEqual(batch.shape, [2, 77]);
  assert.deepEqual(Array.from(batch.data.slice(0, 7), Number), [BOS, 320, 1125, 539, 320, CAT, EOS]);
  assert.deepEqual(Array.from(batch.data.slice(77, 80), Number), [BOS, EOS, EOS]);
  assert.deepEqual(clip.encodeBatch([]).shape, [0, 77]);
});

test('decode reverses the byte-level BPE', () => {
  const ids = clip.encode('A photo of a Café, naïve  cat!').inputIds;
  assert.equal(clip.decode(ids, { skipSpecialTokens: true }), 'a photo of a café, naïve cat!');
  assert.ok(clip.decode(ids).startsWith('<|startoftext|>a photo'));
  assert.equal(clip.decode(clip.tokenIds('🐱 東京')), '🐱 東京');
  assert.throws(() => clip.decode([49408]), (error: unknown) => error instanceof UserError && error.code === 'invalid-argument');
});

test('a repeated word is encoded the same way from the cache', () => {
  const first = clip.tokenIds('antidisestablishmentarianism antidisestablishmentarianism');
  assert.equal(first.length % 2, 0);
  assert.deepEqual(first.slice(0, first.length / 2), first.slice(first.length / 2));
});

function tinyFolder(files: Record<string, unknown>): string {
  const directory = mkdtempSync(join(tmpdir(), 'clip-folder-'));
  copyFileSync(join(tinyTokenizerDir, 'vocab.json'), join(directory, 'vocab.json'));
  copyFileSync(join(tinyTokenizerDir, 'merges.txt'), join(directory, 'merges.txt'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(directory, name), JSON.stringify(content));
  return directory;
}

test('a folder sets special tokens (map over config) and model_max_length', () => {
  const directory = tinyFolder({
    'tokenizer_config.json': { model_max_length: 16, pad_token: '<|endoftext|>', bos_token: { content: '<|startoftext|>' } },
    // SD2.x style: pad '!', given as a plain string; the map wins over the config.
    'special_tokens_map.json': { pad_token: '!' },
  });
  try {
    const tiny = ClipTokenizer.fromDiffusersFolder(directory);
    assert.equal(tiny.config.maxLength, 16);
    assert.equal(tiny.config.padToken, '!');
    assert.equal(tiny.config.padTokenId, 0);
    assert.equal(tiny.config.bosTokenId, 998);
    const encoded = tiny.encode('a!');
    assert.equal(encoded.inputIds.length, 16);
    // transformers never splits special-token strings, so '!' is the pad id, not '!</w>' (256).
    assert.deepEqual(tiny.tokenize('a!'), ['a</w>', '!']);
    assert.deepEqual(encoded.inputIds.slice(-3), [0, 0, 0]);
    assert.deepEqual(encoded.inputIds.slice(0, 4), [998, 320, 0, 999]);
    assert.equal(encoded.attentionMask.filter((bit) => bit === 1).length, 4);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a folder without model_max_length, or with transformers\' "unlimited", uses 77', () => {
  const directory = tinyFolder({ 'tokenizer_config.json': { model_max_length: 1e30 } });
  try {
    assert.equal(ClipTokenizer.fromDiffusersFolder(directory).config.maxLength, 77);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('bad folders and options are UserErrors that say what to fix', () => {
  const missing = mkdtempSync(join(tmpdir(), 'clip-empty-'));
  const unknownToken = tinyFolder({ 'special_tokens_map.json': { bos_token: '<|bos|>' } });
  const badJson = tinyFolder({});
  writeFileSync(join(badJson, 'tokenizer_config.json'), '{ nope');
  try {
    assert.throws(() => ClipTokenizer.fromDiffusersFolder(missing), (error: unknown) => error instanceof UserError && error.code === 'not-found' && /vocab\.json/.test(error.message));
    assert.throws(() => ClipTokenizer.fromDiffusersFolder(unknownToken), (error: unknown) => error instanceof UserError && error.code === 'corrupt-file' && error.message.includes('<|bos|>'));
    assert.throws(() => ClipTokenizer.fromDiffusersFolder(badJson), (error: unknown) => error instanceof UserError && error.code === 'corrupt-file');
    assert.throws(
      () => ClipTokenizer.fromFiles(join(tinyTokenizerDir, 'vocab.json'), join(tinyTokenizerDir, 'merges.txt'), { maxLength: 1 }),
      (error: unknown) => error instanceof UserError && error.code === 'invalid-argument',
    );
  } finally {
    for (const directory of [missing, unknownToken, badJson]) rmSync(directory, { recursive: true, force: true });
  }
});
