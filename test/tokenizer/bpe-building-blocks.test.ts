// The pieces under the tokenizer: the byte alphabet, the BPE merge loop, strict UTF-8 decoding, the
// single-byte code pages, and CLIP's pre-tokenizer (Python whitespace rules, the `regex` pattern).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BYTE_ALPHABET, fromByteAlphabet, toByteAlphabet } from '../../app/tokenizer/byte-level.ts';
import { BytePairEncoder } from '../../app/tokenizer/byte-pair-encoder.ts';
import { normalizePrompt, preTokenize, splitOnSpecialTokens, whitespaceClean } from '../../app/tokenizer/clip-pre-tokenizer.ts';
import { canEncode, decodeSingleByte, encodeSingleByte } from '../../app/tokenizer/single-byte-codecs.ts';
import { decodeUtf8Strict, encodeUtf8 } from '../../app/tokenizer/utf8.ts';

test('the byte alphabet: printable Latin-1 stands for itself, the rest from U+0100 in byte order', () => {
  assert.equal(BYTE_ALPHABET.length, 256);
  assert.equal(new Set(BYTE_ALPHABET).size, 256);
  assert.deepEqual(BYTE_ALPHABET.slice(0, 3), ['!', '"', '#']);
  assert.equal(BYTE_ALPHABET[188], 'Ā'); // byte 0x00
  assert.equal(toByteAlphabet(' '), 'Ġ'); // byte 0x20 is the 33rd unprintable byte
  assert.equal(toByteAlphabet('é'), 'Ã©');
  assert.equal(toByteAlphabet('🐱'), 'ðŁĲ±');
  assert.deepEqual(Array.from(fromByteAlphabet(toByteAlphabet('a é 🐱'))), Array.from(encodeUtf8('a é 🐱')));
});

test('BPE merges the lowest-ranked pair first, everywhere, and marks the word end', () => {
  const bpe = new BytePairEncoder([
    { first: 'a', second: 'b' },
    { first: 'ab', second: 'c</w>' },
    { first: 'b', second: 'c' },
  ]);
  assert.deepEqual(bpe.encode('abc'), ['abc</w>']);
  // The end marker makes the last 'b' a different symbol ('b</w>'), so only the first pair merges.
  assert.deepEqual(bpe.encode('abab'), ['ab', 'a', 'b</w>']);
  // 'b c' is ranked after 'a b': 'a b' wins where both apply.
  assert.deepEqual(bpe.encode('abcbc'), ['ab', 'c', 'b', 'c</w>']);
  assert.deepEqual(bpe.encode('x'), ['x</w>']);
  assert.deepEqual(bpe.encode('<|endoftext|>'), ['<|endoftext|>']);
  // Cached words give the same tokens.
  assert.deepEqual(bpe.encode('abab'), ['ab', 'a', 'b</w>']);
});

test('a repeated merge rule keeps its last rank, like dict(zip(merges, range))', () => {
  const bpe = new BytePairEncoder([
    { first: 'a', second: 'b' },
    { first: 'b', second: 'c</w>' },
    { first: 'a', second: 'b' },
  ]);
  assert.deepEqual(bpe.encode('abc'), ['a', 'bc</w>']);
});

test('strict UTF-8 decoding rejects what CPython rejects; variants accept CESU-8 and C0 80', () => {
  assert.equal(decodeUtf8Strict(encodeUtf8('café 🐱')), 'café 🐱');
  for (const bytes of [[0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc3], [0x80], [0xe2, 0x82]]) {
    assert.equal(decodeUtf8Strict(Uint8Array.from(bytes)), undefined, bytes.join(' '));
  }
  const cesu = Uint8Array.from([0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]);
  assert.equal(decodeUtf8Strict(cesu), undefined);
  assert.equal(decodeUtf8Strict(cesu, true), '\u{1f600}');
  assert.equal(decodeUtf8Strict(Uint8Array.from([0x61, 0xc0, 0x80]), true), 'a\u0000');
  assert.equal(decodeUtf8Strict(Uint8Array.from([0xed, 0xa0, 0x80]), true), undefined);
});

test('single-byte code pages round-trip and know what they cannot encode', () => {
  assert.equal(decodeSingleByte(Uint8Array.from([0x80, 0x81, 0x9d]), 'sloppy-windows-1252'), '€\x81\x9d');
  assert.equal(decodeSingleByte(Uint8Array.from([0xc3, 0xa9]), 'latin-1'), 'Ã©');
  assert.equal(decodeSingleByte(Uint8Array.from([0x1a]), 'sloppy-windows-1251'), '\ufffd');
  assert.equal(decodeSingleByte(Uint8Array.from([0xdb, 0xf0]), 'macroman'), '€\uf8ff');
  assert.equal(decodeSingleByte(Uint8Array.from([0xb0, 0xdb]), 'cp437'), '░█');
  assert.deepEqual(Array.from(encodeSingleByte('Ã©â€™', 'sloppy-windows-1252')), [0xc3, 0xa9, 0xe2, 0x80, 0x99]);
  assert.equal(canEncode('€', 'latin-1'), false);
  assert.equal(canEncode('\x1a', 'sloppy-windows-1252'), false);
  assert.equal(canEncode('\x1a', 'latin-1'), true);
  assert.equal(canEncode('🐱', 'cp437'), false);
});

test('whitespace_clean uses Python\'s \\s: U+1C-1F and U+85 are spaces, U+FEFF and U+200B are not', () => {
  assert.equal(whitespaceClean('  a \t\n b\u001cc\u0085d\u3000e\u00a0f  '), 'a b c d e f');
  assert.equal(whitespaceClean('a\ufeffb\u200bc'), 'a\ufeffb\u200bc');
});

test('normalizePrompt is ftfy, whitespace_clean, lower()', () => {
  assert.equal(normalizePrompt('  A  PHOTO\tof ＣＡＴ &amp; “Dog”  '), 'a photo of cat & "dog"');
});

test('CLIP\'s pattern: contractions, letter runs, single digits, other runs', () => {
  assert.deepEqual(preTokenize("don't 1234 a+b=c 50% <|startoftext|>x"), ['don', "'t", '1', '2', '3', '4', 'a', '+', 'b', '=', 'c', '5', '0', '%', '<|startoftext|>', 'x']);
  assert.deepEqual(preTokenize('!!!???...,,, 東京 🐱🔥'), ['!!!???...,,,', '東京', '🐱🔥']);
  // re.IGNORECASE: 'ſ' folds to 's'.
  assert.deepEqual(preTokenize("it'ſ"), ['it', "'ſ"]);
  // U+0345 case-folds to a letter, so under IGNORECASE neither class matches it and it disappears.
  assert.deepEqual(preTokenize('a\u0345b 1\u0345'), ['a', 'b', '1']);
});

test('special-token strings split a prompt exactly (case-sensitive, longest first)', () => {
  const specials = ['<|startoftext|>', '<|endoftext|>'];
  assert.deepEqual(splitOnSpecialTokens('<|startoftext|>a cat<|endoftext|> and', specials), [
    { text: '<|startoftext|>', special: true },
    { text: 'a cat', special: false },
    { text: '<|endoftext|>', special: true },
    { text: ' and', special: false },
  ]);
  assert.deepEqual(splitOnSpecialTokens('<|ENDOFTEXT|>', specials), [{ text: '<|ENDOFTEXT|>', special: false }]);
  assert.deepEqual(splitOnSpecialTokens('', specials), []);
  assert.deepEqual(splitOnSpecialTokens('a!!b', ['!', '!!']).map((piece) => piece.text), ['a', '!!', 'b']);
});
