import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { UserError } from '../../app/common/errors.ts';
import { pixelsFromTensor } from '../../app/images/pixels-from-tensor.ts';
import { assemblePng, crc32, readChunks } from '../../app/images/png-chunks.ts';
import { decodePng, encodePng, readPngHeader, readPngText, readPngTextChunks, type PixelImage } from '../../app/images/png.ts';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

const golden = join(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared', 'golden');

function gradient(width: number, height: number, channels: 3 | 4): PixelImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      data[i] = (x * 255) / Math.max(1, width - 1);
      data[i + 1] = (y * 255) / Math.max(1, height - 1);
      data[i + 2] = (x * 31 + y * 17) & 255; // noise-like, so every filter type gets chosen somewhere
      if (channels === 4) data[i + 3] = (x + y) & 255;
    }
  }
  return { width, height, channels, data };
}

function rgbaOf(image: PixelImage): Uint8Array {
  if (image.channels === 4) return image.data;
  const out = new Uint8Array(image.width * image.height * 4);
  for (let p = 0; p < image.width * image.height; p++) {
    out.set(image.data.subarray(p * 3, p * 3 + 3), p * 4);
    out[p * 4 + 3] = 255;
  }
  return out;
}

describe('png', () => {
  it('CRC-32 matches the PNG spec check value', () => {
    // The standard CRC-32 check value of the ASCII string "123456789".
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  });

  for (const channels of [3, 4] as const) {
    it(`encodes ${channels}-channel pixels that pngjs and our decoder read back exactly`, () => {
      const image = gradient(37, 23, channels);
      const bytes = encodePng(image);
      const header = readPngHeader(bytes);
      assert.deepEqual(header, { width: 37, height: 23, bitDepth: 8, colorType: channels === 4 ? 6 : 2 });
      const viaPngjs = PNG.sync.read(Buffer.from(bytes));
      assert.deepEqual(new Uint8Array(viaPngjs.data), rgbaOf(image));
      assert.deepEqual(decodePng(bytes).data, rgbaOf(image));
    });
  }

  it('round-trips tEXt, zTXt and iTXt chunks, including non-Latin text and compression', () => {
    const text = [
      { keyword: 'parameters', text: 'a café, 7.5' },
      { keyword: 'Comment', kind: 'zTXt' as const, text: 'compressed '.repeat(50) },
      { keyword: 'afa-studio', kind: 'iTXt' as const, compressed: true, text: '{"prompt":"寿司 🍣"}' },
      { keyword: 'Title', kind: 'iTXt' as const, text: 'Über', languageTag: 'de', translatedKeyword: 'Titel' },
      { keyword: 'auto', text: 'Ωmega' },
    ];
    const bytes = encodePng(gradient(4, 4, 3), text);
    const chunks = readPngTextChunks(bytes);
    assert.deepEqual(
      chunks.map((chunk) => [chunk.keyword, chunk.kind, chunk.text]),
      [
        ['parameters', 'tEXt', 'a café, 7.5'],
        ['Comment', 'zTXt', 'compressed '.repeat(50)],
        ['afa-studio', 'iTXt', '{"prompt":"寿司 🍣"}'],
        ['Title', 'iTXt', 'Über'],
        ['auto', 'iTXt', 'Ωmega'], // not Latin-1, so written as iTXt like PIL's add_text does
      ],
    );
    assert.equal(chunks[3].languageTag, 'de');
    assert.equal(chunks[3].translatedKeyword, 'Titel');
    assert.equal(readPngText(bytes).get('afa-studio'), '{"prompt":"寿司 🍣"}');
  });

  it('reads UTF-8 written into tEXt by tools that ignore the Latin-1 rule, and real Latin-1 as Latin-1', () => {
    const latin1 = Uint8Array.from([...'k\0caf', 0xe9].map((c) => (typeof c === 'number' ? c : c.charCodeAt(0))));
    const utf8 = new Uint8Array([...new TextEncoder().encode('k\0寿司')]);
    const base = readChunks(encodePng(gradient(2, 2, 3)));
    const withText = (data: Uint8Array) => assemblePng([base[0], { type: 'tEXt', data }, ...base.slice(1)]);
    assert.equal(readPngText(withText(latin1)).get('k'), 'café');
    assert.equal(readPngText(withText(utf8)).get('k'), '寿司');
  });

  it('keeps the first of repeated keywords and skips chunks whose CRC is wrong', () => {
    const bytes = encodePng(gradient(2, 2, 3), [
      { keyword: 'parameters', text: 'first' },
      { keyword: 'parameters', text: 'second' },
      { keyword: 'broken', text: 'x' },
    ]);
    const damaged = Uint8Array.from(bytes);
    const at = Buffer.from(damaged).indexOf('broken');
    damaged[at + 7] ^= 0xff; // flip a byte of the chunk's text: its CRC no longer matches
    assert.equal(readPngText(damaged).get('parameters'), 'first');
    assert.equal(readPngText(damaged).has('broken'), false);
    assert.throws(() => readChunks(damaged), (error: unknown) => error instanceof UserError && error.code === 'corrupt-file');
  });

  it('rejects non-PNG and truncated files with corrupt-file, and bad input with invalid-argument', () => {
    const bytes = encodePng(gradient(8, 8, 3));
    const isCode = (code: string) => (error: unknown) => error instanceof UserError && error.code === code;
    assert.throws(() => decodePng(new TextEncoder().encode('GIF89a not a png')), isCode('corrupt-file'));
    assert.throws(() => decodePng(bytes.subarray(0, bytes.length - 20)), isCode('corrupt-file'));
    assert.throws(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) }), isCode('invalid-argument'));
    assert.throws(() => encodePng(gradient(2, 2, 3), [{ keyword: '', text: 'x' }]), isCode('invalid-argument'));
    assert.throws(() => encodePng(gradient(2, 2, 3), [{ keyword: 'k', kind: 'tEXt', text: '寿司' }]), isCode('invalid-argument'));
  });

  it('guards against zlib bombs in compressed text chunks', () => {
    const base = readChunks(encodePng(gradient(2, 2, 3)));
    const bomb = deflateSync(new Uint8Array(32 * 1024 * 1024)); // 32 MiB of zeros, ~32 kB compressed
    // zTXt: keyword "b", NUL separator, compression method 0, compressed text.
    const data = new Uint8Array([0x62, 0, 0, ...bomb]);
    const png = assemblePng([base[0], { type: 'zTXt', data }, ...base.slice(1)]);
    assert.equal(readPngText(png).has('b'), false);
  });

  it('decodes the golden pipeline PNG (PIL-written) to the pixels diffusers made from its float image', { skip: !existsSync(golden) && 'golden data not present' }, () => {
    const png = decodePng(readFileSync(join(golden, 'cases', 'pipeline', 'sd_expert1.png')));
    const file = SafetensorsFile.open(join(golden, 'cases', 'pipeline', 'sd_expert1.safetensors'));
    try {
      const tensor = file.get('image').read();
      assert.equal(tensor.dtype, 'float32');
      const expected = pixelsFromTensor(tensor as Tensor<'float32'>, { layout: 'nhwc', range: 'unit' });
      assert.equal(png.width, expected.width);
      assert.equal(png.height, expected.height);
      let worst = 0;
      for (let p = 0; p < png.width * png.height; p++) {
        for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(png.data[p * 4 + c] - expected.data[p * 3 + c]));
      }
      assert.equal(worst, 0, `largest pixel difference ${worst}`);
    } finally {
      file.close();
    }
  });
});

