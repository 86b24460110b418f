// The containers: where text sits in PNG, JPEG and WebP files, how it is encoded, and what happens
// with damaged files (a clear problem in words, never an exception).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJsonExact } from '../../app/images/exact-json.ts';
import { decodeUserComment, readExifText } from '../../app/images/exif.ts';
import { describeContents, readImageInfo } from '../../app/images/image-info.ts';
import { metadataTexts, readImageMetadata } from '../../app/images/image-metadata.ts';
import { readImageSettings } from '../../app/images/metadata.ts';
import { readXmpProperties } from '../../app/images/xmp.ts';
import { encodePng } from '../../app/images/png.ts';
import { A1111_PARAMETERS, testImage } from './foreign-fixtures.ts';
import { a1111Exif, ascii, asciiField, concat, jpegWith, pngWithChunks, rawText, tiff, undefinedField, utf16, utf8, webpWith } from './container-writers.ts';
import { BIG_SEED, a1111Jpeg, comfyFluxPrompt, drawThingsXmp, swarmJpeg } from './tool-fixtures.ts';

const latin1 = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));

describe('PNG text chunks', () => {
  it('reads tEXt, zTXt and iTXt (compressed or not), before or after the image data', () => {
    const bytes = pngWithChunks(
      [rawText('zTXt', 'parameters', latin1(A1111_PARAMETERS))],
      [
        { keyword: 'a', text: 'plain iTXt', kind: 'iTXt' },
        { keyword: 'b', text: 'compressed iTXt 寿司', kind: 'iTXt', compressed: true },
        { keyword: 'c', text: 'after IDAT' },
      ],
    );
    const texts = metadataTexts(readImageMetadata(bytes).entries);
    assert.equal(texts.get('parameters'), A1111_PARAMETERS);
    assert.equal(texts.get('a'), 'plain iTXt');
    assert.equal(texts.get('b'), 'compressed iTXt 寿司');
    assert.equal(texts.get('c'), 'after IDAT');
    assert.equal(readImageSettings(bytes)?.seed, 3141592653);
  });

  it('Latin-1 tEXt as Latin-1, UTF-8 written into tEXt as UTF-8', () => {
    const bytes = pngWithChunks([rawText('tEXt', 'latin', latin1('café crème')), rawText('tEXt', 'parameters', utf8('富士山の夕焼け, café\nSteps: 20, Sampler: Euler, Seed: 1, Size: 512x512'))]);
    const texts = metadataTexts(readImageMetadata(bytes).entries);
    assert.equal(texts.get('latin'), 'café crème');
    assert.equal(readImageSettings(bytes)?.prompt, '富士山の夕焼け, café');
  });

  it('the first chunk of a keyword wins, as PIL reads them', () => {
    const bytes = pngWithChunks([{ keyword: 'parameters', text: 'first\nSteps: 1, Seed: 2, Size: 8x8' }], [{ keyword: 'parameters', text: 'second\nSteps: 1, Seed: 2, Size: 8x8' }]);
    assert.equal(readImageSettings(bytes)?.prompt, 'first');
  });
});

describe('EXIF', () => {
  it('UserComment character codes: UNICODE in either byte order, ASCII, undefined, none', () => {
    assert.equal(decodeUserComment(concat(ascii('UNICODE\0'), utf16('a ☃', false)), false), 'a ☃');
    assert.equal(decodeUserComment(concat(ascii('UNICODE\0'), utf16('a ☃', true)), true), 'a ☃');
    // A writer that ignored the TIFF byte order: the zero bytes give the order away.
    assert.equal(decodeUserComment(concat(ascii('UNICODE\0'), utf16('Steps: 20, Seed: 1', true)), false), 'Steps: 20, Seed: 1');
    assert.equal(decodeUserComment(concat(ascii('ASCII\0\0\0'), ascii('plain\0')), true), 'plain');
    assert.equal(decodeUserComment(concat(new Uint8Array(8), utf8('café')), true), 'café');
    assert.equal(decodeUserComment(utf8('{"prompt": "x"}'), true), '{"prompt": "x"}');
  });

  it('reads IFD0 and the Exif IFD in both byte orders', () => {
    for (const littleEndian of [true, false]) {
      const block = tiff(littleEndian, new Map([[0x0131, asciiField('Tool 1.0')], [0x010f, asciiField('workflow:{}')]]), new Map([[0x9286, undefinedField(concat(ascii('ASCII\0\0\0'), ascii('hello')))]]));
      assert.deepEqual(readExifText(block), {
        texts: [
          { tag: 'Make', text: 'workflow:{}' },
          { tag: 'Software', text: 'Tool 1.0' },
          { tag: 'UserComment', text: 'hello' },
        ],
        problems: [],
      });
    }
  });

  it('a truncated or damaged EXIF block gives problems, not exceptions', () => {
    const block = a1111Exif(A1111_PARAMETERS);
    const cut = readExifText(block.subarray(0, block.length - 40));
    assert.equal(cut.texts.length, 0);
    assert.match(cut.problems[0]!, /UserComment value runs past the end/);
    assert.match(readExifText(ascii('XX*\0garbage')).problems[0]!, /no TIFF header/);
    const loop = tiff(true, new Map([[0x0131, asciiField('x')]]));
    new DataView(loop.buffer).setUint32(4, 4000, true);
    assert.match(readExifText(loop).problems[0]!, /past the end/);
  });
});

describe('JPEG and WebP', () => {
  it('JPEG: EXIF, XMP and COM segments, and the size from SOF', () => {
    const bytes = jpegWith({ exif: a1111Exif('a'), xmp: drawThingsXmp(), comment: utf8('hello comment'), width: 300, height: 200 });
    const metadata = readImageMetadata(bytes);
    assert.equal(metadata.format, 'jpeg');
    assert.deepEqual([metadata.width, metadata.height], [300, 200]);
    assert.deepEqual(metadata.entries.map((entry) => [entry.container, entry.key]), [['EXIF', 'UserComment'], ['XMP', 'XMP'], ['COM', 'Comment']]);
    assert.deepEqual(metadata.problems, []);
    assert.equal(readImageSettings(bytes)?.source, 'draw-things', 'a bare UserComment is no infotext; the XMP names its tool');
  });

  it('WebP: EXIF (with or without the "Exif\\0\\0" prefix) and XMP chunks, size from VP8X', () => {
    for (const exif of [a1111Exif(A1111_PARAMETERS), concat(ascii('Exif\0\0'), a1111Exif(A1111_PARAMETERS))]) {
      const metadata = readImageMetadata(webpWith({ exif, xmp: '<x/>', width: 640, height: 480 }));
      assert.equal(metadata.format, 'webp');
      assert.deepEqual([metadata.width, metadata.height], [640, 480]);
      assert.equal(metadataTexts(metadata.entries).get('parameters'), A1111_PARAMETERS);
    }
  });
});

describe('damaged files: what was read is kept, what was wrong is said', () => {
  it('a PNG cut in the middle of a chunk', () => {
    const whole = pngWithChunks([{ keyword: 'parameters', text: A1111_PARAMETERS }], [{ keyword: 'late', text: 'x'.repeat(500) }]);
    const info = readImageInfo(whole.subarray(0, whole.length - 300));
    assert.equal(info.settings?.seed, 3141592653, 'the chunk before the cut is read');
    assert.match(info.problems[0]!, /truncated: its "tEXt" chunk at byte \d+ runs past the end/);
  });

  it('a zTXt that does not decompress and a chunk with a bad CRC', () => {
    const broken = rawText('zTXt', 'parameters', utf8('x'));
    broken.data[broken.data.length - 3] ^= 0xff;
    const bytes = pngWithChunks([broken, { keyword: 'Software', text: 'kept' }]);
    const kept = Buffer.from(bytes).indexOf('kept');
    bytes[kept] = 'K'.charCodeAt(0); // the Software chunk's CRC no longer matches
    const info = readImageInfo(bytes);
    assert.equal(info.settings, undefined);
    assert.ok(info.problems.some((problem) => /"parameters" cannot be decompressed/.test(problem)), info.problems.join(' | '));
    assert.ok(info.problems.some((problem) => /fails its CRC check/.test(problem)), info.problems.join(' | '));
  });

  it('broken JSON in ComfyUI and InvokeAI chunks, truncated JPEG and WebP, random bytes', () => {
    const cases = [
      pngWithChunks([{ keyword: 'prompt', text: comfyFluxPrompt().slice(0, 200) }, { keyword: 'workflow', text: '{"nodes": [1, null, {"type": 5}]' }]),
      pngWithChunks([{ keyword: 'invokeai_metadata', text: '{"positive_prompt": ' }, { keyword: 'sd-metadata', text: 'null' }]),
      pngWithChunks([{ keyword: 'prompt', text: '{"1": {"class_type": "KSampler", "inputs": {"positive": ["1", 0], "latent_image": ["1", 0], "model": ["1", 0]}}}' }]),
      a1111Jpeg(A1111_PARAMETERS).subarray(0, 60),
      swarmJpeg().subarray(0, 300),
      webpWith({ exif: a1111Exif(A1111_PARAMETERS) }).subarray(0, 70),
      Uint8Array.from({ length: 300 }, (_, i) => (i * 7919) & 255),
      new Uint8Array(0),
    ];
    for (const bytes of cases) {
      const info = readImageInfo(bytes);
      assert.ok(typeof describeContents(info) === 'string');
    }
    assert.match(describeContents(readImageInfo(cases[3]!)), /JPEG image .*truncated/);
    assert.match(describeContents(readImageInfo(cases[6]!)), /not a PNG, JPEG or WebP image/);
  });

  it('a file without settings is described by what it holds', () => {
    const bytes = pngWithChunks([{ keyword: 'Software', text: 'GIMP' }]);
    assert.equal(describeContents(readImageInfo(bytes)), 'it is a PNG image (24x16) with metadata Software, none of it generation settings the studio recognises');
    assert.equal(describeContents(readImageInfo(encodePng(testImage()))), 'it is a PNG image (24x16) with no text metadata');
  });
});

describe('exact JSON and XMP', () => {
  it('keeps integers beyond 2^53 exact and parses the rest as JSON.parse does', () => {
    assert.deepEqual(parseJsonExact(`{"a": ${BIG_SEED}, "b": "${BIG_SEED}", "c": -12345678901234567890, "d": 1.5e300, "e": [9007199254740991]}`), {
      a: BIG_SEED,
      b: BIG_SEED,
      c: '-12345678901234567890',
      d: 1.5e300,
      e: [9007199254740991],
    });
    assert.throws(() => parseJsonExact('{"a": 1'), SyntaxError);
    assert.deepEqual(parseJsonExact('{"x": NaN, "y": [Infinity, -Infinity], "z": "NaN"}'), { x: null, y: [null, null], z: 'NaN' }, "Python's json.dumps floats");
  });

  it('reads simple XMP properties in element, rdf:Alt and attribute form', () => {
    const properties = readXmpProperties(
      '<x:xmpmeta><rdf:RDF><rdf:Description xmp:CreatorTool="Tool &amp; Co" tiff:Model=\'m\'><dc:description><rdf:Alt><rdf:li xml:lang="x-default">a &lt;b&gt; &#x263A;</rdf:li></rdf:Alt></dc:description><exif:UserComment>{&quot;c&quot;:1}</exif:UserComment></rdf:Description></rdf:RDF></x:xmpmeta>',
    );
    assert.equal(properties.get('xmp:CreatorTool'), 'Tool & Co');
    assert.equal(properties.get('tiff:Model'), 'm');
    assert.equal(properties.get('dc:description'), 'a <b> ☺');
    assert.equal(properties.get('exif:UserComment'), '{"c":1}');
  });
});
