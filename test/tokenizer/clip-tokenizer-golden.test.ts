// Every golden prompt must give transformers' CLIPTokenizer (4.33, ftfy 6.1.1) output exactly: ids,
// attention mask and untruncated length from the golden safetensors, BPE tokens from prompts.json. The
// prompts cover case, whitespace, weights syntax, accents (precomposed and combining), CJK, emoji (ZWJ
// sequences), numbers, punctuation, contractions, special-token strings, HTML entities, curly quotes,
// mojibake, fullwidth forms, ligatures, zero-width and control characters, and the 75/76-token boundary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClipTokenizer } from '../../app/tokenizer/clip-tokenizer.ts';
import { fullTokenizerDir, goldenPrompts, goldenRows, tinyTokenizerDir } from './golden-tokenizer-data.ts';

const prompts = goldenPrompts();
const full = ClipTokenizer.fromDiffusersFolder(fullTokenizerDir);

test('the golden set has 42 prompts', () => {
  assert.equal(prompts.length, 42);
});

test('input_ids, attention_mask and untruncated_length of all 42 prompts match transformers exactly', () => {
  const inputIds = goldenRows('outputs', 'input_ids');
  const attentionMask = goldenRows('outputs', 'attention_mask');
  const untruncated = goldenRows('outputs', 'untruncated_length');
  for (const prompt of prompts) {
    const encoded = full.encode(prompt.text);
    const label = `prompt ${prompt.index} (${prompt.id})`;
    assert.deepEqual(encoded.inputIds, inputIds[prompt.index], `${label}: input_ids`);
    assert.deepEqual(encoded.attentionMask, attentionMask[prompt.index], `${label}: attention_mask`);
    assert.equal(encoded.untruncatedLength, untruncated[prompt.index][0], `${label}: untruncated_length`);
    // prompts.json repeats the ids (its own copy) and adds the untruncated ids.
    assert.deepEqual(encoded.inputIds, prompt.input_ids, `${label}: prompts.json input_ids`);
    assert.equal(encoded.untruncatedLength, prompt.untruncated_ids.length, `${label}: untruncated ids`);
  }
});

test('BPE tokens of all 42 prompts match transformers tokenize()', () => {
  for (const prompt of prompts) {
    // prompts.json lists the untruncated tokens with bos and eos.
    const expected = prompt.tokens.slice(1, -1);
    assert.deepEqual(full.tokenize(prompt.text), expected, `prompt ${prompt.index} (${prompt.id})`);
    assert.equal(full.countTokens(prompt.text), expected.length);
  }
});

test('the tiny 1000-token tokenizer matches on the first 20 prompts', () => {
  const tiny = ClipTokenizer.fromDiffusersFolder(tinyTokenizerDir);
  assert.equal(tiny.config.vocabSize, 1000);
  assert.equal(tiny.config.mergeCount, 486);
  assert.deepEqual(
    [tiny.config.bosTokenId, tiny.config.eosTokenId, tiny.config.padTokenId],
    [998, 999, 999],
  );
  const inputIds = goldenRows('tiny_outputs', 'input_ids');
  assert.equal(inputIds.length, 20);
  inputIds.forEach((expected, index) => {
    assert.deepEqual(tiny.encode(prompts[index].text).inputIds, expected, `prompt ${index} (${prompts[index].id})`);
  });
});

test('encodeBatch stacks the golden input_ids as an int64 [42, 77] tensor', () => {
  const batch = full.encodeBatch(prompts.map((prompt) => prompt.text));
  assert.equal(batch.dtype, 'int64');
  assert.deepEqual(batch.shape, [42, 77]);
  const expected = goldenRows('outputs', 'input_ids').flat();
  assert.deepEqual(Array.from(batch.data, (value) => Number(value)), expected);
});
