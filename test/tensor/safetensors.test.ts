import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, SafetensorsWriter, writeSafetensors } from '../../app/tensor/safetensors.ts';
import { tensor } from '../../app/tensor/tensor.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { UserError, CancelledError } from '../../app/common/errors.ts';
import type { Progress } from '../../app/common/progress.ts';
import { parsePythonJson } from '../golden/python-json.ts';

function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A file with an arbitrary header text (or raw header bytes) and data section. */
function rawFile(path: string, header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), declaredLength?: bigint): string {
  const bytes = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, declaredLength ?? BigInt(bytes.length), true);
  writeFileSync(path, Buffer.concat([prefix, bytes, data]));
  return path;
}

function everyDtype(): Record<string, Tensor> {
  return {
    f32: tensor('float32', [2, 3], new Float32Array([1, -2.5, 3e-8, Infinity, -0, 6])),
    f16: tensor('float16', [3], new Uint16Array([0x3c00, 0x7c00, 0x8001])),
    bf16: tensor('bfloat16', [1, 2], new Uint16Array([0x3f80, 0xff80])),
    f64: tensor('float64', [2], new Float64Array([Math.PI, -1e300])),
    i64: tensor('int64', [3], new BigInt64Array([-(2n ** 62n), 0n, 9007199254740993n])),
    i32: tensor('int32', [2, 1], new Int32Array([-2147483648, 7])),
    u8: tensor('uint8', [4], new Uint8Array([0, 1, 254, 255])),
    bool: tensor('bool', [2], new Uint8Array([1, 0])),
    scalar: tensor('float32', [], new Float32Array([42])),
    empty: tensor('float32', [0, 4], new Float32Array(0)),
    empty_i64: tensor('int64', [2, 0], new BigInt64Array(0)),
  };
}

test('every dtype, 0-d and empty tensors and metadata survive a round trip', (t) => {
  const dir = scratch(t);
  const path = join(dir, 'all.safetensors');
  const tensors = everyDtype();
  writeSafetensors(path, tensors, { format: 'pt', note: 'ünïcode ✓' });
  const file = SafetensorsFile.open(path);
  t.after(() => file.close());
  assert.deepEqual(file.metadata, { format: 'pt', note: 'ünïcode ✓' });
  assert.deepEqual([...file.names()].sort(), Object.keys(tensors).sort());
  for (const [name, expected] of Object.entries(tensors)) {
    const lazy = file.get(name);
    assert.equal(lazy.dtype, expected.dtype, name);
    assert.deepEqual(lazy.shape, expected.shape, name);
    const actual = lazy.read();
    assert.equal(actual.dtype, expected.dtype, name);
    assert.deepEqual(actual.shape, expected.shape, name);
    assert.deepEqual(actual.data, expected.data, name);
  }
  assert.equal(file.get('f16').storedDtype, 'F16');
  assert.equal(file.get('bool').storedDtype, 'BOOL');
});

test('the writer pads the header to 8 bytes, sorts names and regions point at the raw bytes', (t) => {
  const dir = scratch(t);
  const path = join(dir, 'layout.safetensors');
  const f64 = tensor('float64', [2], new Float64Array([1.5, -2]));
  writeSafetensors(path, new Map<string, Tensor>([['zeta', tensor('uint8', [3], new Uint8Array([1, 2, 3]))], ['alpha', f64]]));
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  assert.equal(headerLength % 8, 0);
  const header = bytes.subarray(8, 8 + headerLength).toString('utf8');
  assert.match(header, /^\{.*\} *$/);
  assert.ok(header.indexOf('"alpha"') < header.indexOf('"zeta"'), 'keys in name order');
  const file = SafetensorsFile.open(path);
  t.after(() => file.close());
  assert.deepEqual(file.names(), ['alpha', 'zeta']);
  assert.equal(file.dataOffset, 8 + headerLength);
  const region = file.get('alpha').region;
  assert.equal(region.path, path);
  assert.equal(region.offset % 8, 0);
  assert.equal(region.length, 16);
  assert.deepEqual(new Float64Array(bytes.buffer.slice(bytes.byteOffset + region.offset, bytes.byteOffset + region.offset + 16)), f64.data);
  assert.deepEqual([...bytes.subarray(file.get('zeta').region.offset, file.get('zeta').region.offset + 3)], [1, 2, 3]);
});

test('a missing tensor and a missing file are UserErrors that name them', (t) => {
  const dir = scratch(t);
  const path = join(dir, 'one.safetensors');
  writeSafetensors(path, [['a', tensor('float32', [1], new Float32Array([1]))]]);
  const file = SafetensorsFile.open(path);
  t.after(() => file.close());
  assert.equal(file.has('a'), true);
  assert.equal(file.has('b'), false);
  assert.throws(() => file.get('b'), (error: unknown) => error instanceof UserError && error.code === 'not-found' && error.message.includes("'b'"));
  assert.throws(() => SafetensorsFile.open(join(dir, 'nope.safetensors')), (error: unknown) => error instanceof UserError && error.code === 'not-found');
  file.close();
  assert.throws(() => file.read('a'), /closed/);
});

const F32_4 = new Uint8Array(16);

const malformed: readonly { readonly name: string; readonly build: (path: string) => void; readonly detail: RegExp }[] = [
  { name: 'shorter than the length prefix', build: (path) => writeFileSync(path, new Uint8Array(5)), detail: /only 5 bytes/ },
  { name: 'header longer than the file', build: (path) => rawFile(path, '{}', new Uint8Array(0), 4096n), detail: /truncated/ },
  { name: 'absurd header length', build: (path) => rawFile(path, '{}', new Uint8Array(0), 2n ** 40n), detail: /absurd/ },
  { name: 'header not UTF-8', build: (path) => rawFile(path, new Uint8Array([0x7b, 0xff, 0x7d])), detail: /UTF-8/ },
  { name: 'header not JSON', build: (path) => rawFile(path, '{"a": {'), detail: /not valid JSON/ },
  { name: 'header not an object', build: (path) => rawFile(path, '[1, 2]'), detail: /not a JSON object/ },
  { name: 'entry not an object', build: (path) => rawFile(path, '{"a": 3}'), detail: /'a' is not described/ },
  { name: 'missing dtype', build: (path) => rawFile(path, '{"a": {"shape": [4], "data_offsets": [0, 16]}}', F32_4), detail: /'a' has no dtype/ },
  { name: 'missing shape', build: (path) => rawFile(path, '{"a": {"dtype": "F32", "data_offsets": [0, 16]}}', F32_4), detail: /'a' has no valid shape/ },
  { name: 'negative shape', build: (path) => rawFile(path, '{"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}', F32_4), detail: /no valid shape/ },
  { name: 'missing data_offsets', build: (path) => rawFile(path, '{"a": {"dtype": "F32", "shape": [4]}}', F32_4), detail: /no valid data_offsets/ },
  { name: 'fractional data_offsets', build: (path) => rawFile(path, '{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0.5, 16]}}', F32_4), detail: /no valid data_offsets/ },
  { name: 'three data_offsets', build: (path) => rawFile(path, '{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8, 16]}}', F32_4), detail: /no valid data_offsets/ },
  { name: 'end before begin', build: (path) => rawFile(path, '{"a": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}}', F32_4), detail: /ends \(byte 0\) before it begins/ },
  { name: 'byte length not shape × size', build: (path) => rawFile(path, '{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}', F32_4), detail: /should take 12 bytes but its data_offsets span 16/ },
  { name: 'data beyond the end of the file', build: (path) => rawFile(path, '{"a": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}', F32_4), detail: /truncated/ },
  {
    name: 'overlapping tensors',
    build: (path) => rawFile(path, '{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}', F32_4),
    detail: /'a' and 'b' overlap/,
  },
  {
    name: 'duplicate keys',
    build: (path) => rawFile(path, '{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "\\u0061": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}', F32_4),
    detail: /names 'a' twice/,
  },
  {
    name: 'duplicate field inside an entry',
    build: (path) => rawFile(path, '{"a": {"dtype": "F32", "shape": [4], "dtype": "F16", "data_offsets": [0, 16]}}', F32_4),
    detail: /names 'dtype' twice/,
  },
  { name: 'metadata not strings', build: (path) => rawFile(path, '{"__metadata__": {"epoch": 3}}'), detail: /metadata 'epoch' is not a string/ },
  {
    name: 'odd dtype with the wrong byte length',
    build: (path) => rawFile(path, '{"a": {"dtype": "I8", "shape": [4], "data_offsets": [0, 16]}}', F32_4),
    detail: /should take 4 bytes/,
  },
];

for (const { name, build, detail } of malformed) {
  test(`malformed file: ${name} is a corrupt-file error`, (t) => {
    const path = join(scratch(t), 'bad.safetensors');
    build(path);
    assert.throws(
      () => SafetensorsFile.open(path),
      (error: unknown) => {
        assert.ok(error instanceof UserError, `expected a UserError, got ${String(error)}`);
        assert.equal(error.code, 'corrupt-file');
        assert.match(error.message, detail);
        assert.ok(error.message.includes(path), 'names the file');
        assert.match(error.message, /download it again/);
        return true;
      },
    );
  });
}

test('holes between tensors and trailing bytes are tolerated', (t) => {
  const path = join(scratch(t), 'holes.safetensors');
  const data = new Uint8Array(24);
  new Float32Array(data.buffer).set([1, 2, 3, 4, 5, 6]);
  rawFile(path, '{"b": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', data);
  const file = SafetensorsFile.open(path);
  t.after(() => file.close());
  assert.deepEqual(file.names(), ['a', 'b'], 'data order');
  assert.deepEqual(file.read('a').data, new Float32Array([1, 2]));
  assert.deepEqual(file.read('b').data, new Float32Array([4]));
});

test('a tensor of an unsupported or unknown dtype opens with the file and fails only when read', (t) => {
  const path = join(scratch(t), 'odd.safetensors');
  const data = new Uint8Array(16);
  new Float32Array(data.buffer, 0, 2).set([7, 8]);
  rawFile(
    path,
    '{"ok": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "fp8": {"dtype": "F8_E4M3", "shape": [2, 2], "data_offsets": [8, 12]}, "mystery": {"dtype": "Q3", "shape": [7], "data_offsets": [12, 16]}}',
    data,
  );
  const file = SafetensorsFile.open(path);
  t.after(() => file.close());
  assert.deepEqual(file.read('ok').data, new Float32Array([7, 8]));
  assert.equal(file.entry('fp8').dtype, 'F8_E4M3');
  for (const [name, dtype] of [['fp8', 'F8_E4M3'], ['mystery', 'Q3']]) {
    assert.throws(
      () => file.get(name!),
      (error: unknown) => error instanceof UserError && error.code === 'unsupported' && error.message.includes(`'${name}'`) && error.message.includes(dtype!),
    );
  }
});

test('a tensor past 4 GiB of a sparse file is read by offset alone', (t) => {
  const path = join(scratch(t), 'sparse.safetensors');
  const filler = 5 * 2 ** 30; // 5 GiB of never-written (sparse) bytes declared as one U8 tensor
  const tail = new Float32Array([1.25, -3.5, 1e30]);
  const header = JSON.stringify({
    filler: { dtype: 'U8', shape: [filler], data_offsets: [0, filler] },
    tail: { dtype: 'F32', shape: [3], data_offsets: [filler, filler + 12] },
  }).padEnd(256, ' ');
  rawFile(path, header);
  const fd = openSync(path, 'r+');
  try {
    const dataOffset = 8 + 256;
    ftruncateSync(fd, dataOffset + filler + 12);
    writeSync(fd, new Uint8Array(tail.buffer), 0, 12, dataOffset + filler);
  } finally {
    closeSync(fd);
  }
  const file = SafetensorsFile.open(path);
  t.after(() => file.close());
  const lazy = file.get('tail');
  assert.equal(lazy.region.offset, 264 + filler);
  assert.ok(lazy.region.offset > 2 ** 32);
  assert.deepEqual(lazy.read().data, tail);
  assert.equal(file.get('filler').region.length, filler);
});

test('the streaming writer writes declared tensors in order and commits atomically', (t) => {
  const dir = scratch(t);
  const path = join(dir, 'stream.safetensors');
  const progress: Progress[] = [];
  const writer = new SafetensorsWriter(
    path,
    [
      { name: 'second', dtype: 'float32', shape: [2] },
      { name: 'first', dtype: 'int64', shape: [1] },
    ],
    { metadata: { source: 'test' }, control: { onProgress: (p) => progress.push(p) }, phase: 'convert' },
  );
  assert.throws(() => writer.write('first', new BigInt64Array([1n])), /expected tensor 'second' next/);
  assert.throws(() => writer.write('second', new Float64Array(2)), /needs a Float32Array/);
  assert.throws(() => writer.write('second', new Float32Array(3)), /needs 2 elements/);
  writer.write('second', new Float32Array([1, 2]));
  assert.equal(existsSync(path), false, 'nothing at the target before commit');
  writer.write('first', tensor('int64', [1], new BigInt64Array([5n])));
  writer.commit();
  assert.deepEqual(readdirSync(dir), ['stream.safetensors']);
  assert.deepEqual(
    progress.map((p) => [p.phase, p.done, p.total, p.unit]),
    [
      ['convert', 8, 16, 'bytes'],
      ['convert', 16, 16, 'bytes'],
    ],
  );
  const file = SafetensorsFile.open(path);
  t.after(() => file.close());
  assert.deepEqual(file.names(), ['second', 'first'], 'declared order is the data order');
  assert.deepEqual(file.metadata, { source: 'test' });
  assert.deepEqual(file.read('first').data, new BigInt64Array([5n]));
});

test('abort, an incomplete commit and cancellation leave no file behind', (t) => {
  const dir = scratch(t);
  const entries = [
    { name: 'a', dtype: 'float32', shape: [1] },
    { name: 'b', dtype: 'float32', shape: [1] },
  ] as const;

  const aborted = new SafetensorsWriter(join(dir, 'aborted.safetensors'), entries);
  aborted.write('a', new Float32Array([1]));
  aborted.abort();
  aborted.abort();

  const incomplete = new SafetensorsWriter(join(dir, 'incomplete.safetensors'), entries);
  incomplete.write('a', new Float32Array([1]));
  assert.throws(() => incomplete.commit(), /'b' and 0 more were never written/);

  const controller = new AbortController();
  const cancelled = new SafetensorsWriter(join(dir, 'cancelled.safetensors'), entries, { control: { signal: controller.signal } });
  cancelled.write('a', new Float32Array([1]));
  controller.abort();
  assert.throws(() => cancelled.write('b', new Float32Array([2])), CancelledError);

  const signal = AbortSignal.abort();
  assert.throws(() => writeSafetensors(join(dir, 'never.safetensors'), { a: tensor('float32', [1], new Float32Array(1)) }, undefined, { signal }), CancelledError);

  assert.deepEqual(readdirSync(dir), []);
});

test('the writer refuses bad declarations', (t) => {
  const dir = scratch(t);
  const path = join(dir, 'x.safetensors');
  assert.throws(() => new SafetensorsWriter(path, [{ name: 'a', dtype: 'float32', shape: [1] }, { name: 'a', dtype: 'float32', shape: [1] }]), /listed twice/);
  assert.throws(() => new SafetensorsWriter(path, [{ name: '__metadata__', dtype: 'float32', shape: [1] }]), UserError);
  assert.throws(() => new SafetensorsWriter(path, [{ name: 'a', dtype: 'float32', shape: [1.5] }]), /invalid shape/);
  assert.throws(() => writeSafetensors(path, { a: tensor('float32', [1], new Float32Array(1)) }, { n: 3 as unknown as string }), /must be a string/);
  assert.deepEqual(readdirSync(dir), []);
});

test('tensor names that look like integers keep the declared order', (t) => {
  const path = join(scratch(t), 'numeric.safetensors');
  const writer = new SafetensorsWriter(path, [
    { name: 'b', dtype: 'uint8', shape: [1] },
    { name: '10', dtype: 'uint8', shape: [1] },
    { name: '2', dtype: 'uint8', shape: [1] },
  ]);
  writer.write('b', new Uint8Array([1]));
  writer.write('10', new Uint8Array([2]));
  writer.write('2', new Uint8Array([3]));
  writer.commit();
  const file = SafetensorsFile.open(path);
  t.after(() => file.close());
  assert.deepEqual(file.names(), ['b', '10', '2']);
  assert.deepEqual([...file.read('2').data], [3]);
});

// The shared golden files were written by an independent (Python) writer of the format.
const golden = join(import.meta.dirname, '..', '..', '..', 'shared', 'golden');

test('every tensor the golden manifest declares opens with its declared dtype and shape', (t) => {
  const manifest = parsePythonJson(readFileSync(join(golden, 'manifest.json'), 'utf8')) as {
    cases: { id: string; inputs?: Record<string, Record<string, unknown>>; outputs: Record<string, Record<string, unknown>> }[];
  };
  const files = new Map<string, SafetensorsFile>();
  t.after(() => files.forEach((file) => file.close()));
  let checked = 0;
  for (const testCase of manifest.cases) {
    for (const entry of [...Object.values(testCase.inputs ?? {}), ...Object.values(testCase.outputs)]) {
      if (entry.type !== 'tensor') continue;
      const path = join(golden, entry.file as string);
      let file = files.get(path);
      if (!file) files.set(path, (file = SafetensorsFile.open(path)));
      const stored = file.entry(entry.tensor as string);
      assert.equal(stored.dtype, entry.dtype, `${testCase.id} ${String(entry.tensor)}`);
      assert.deepEqual(stored.shape, entry.shape, `${testCase.id} ${String(entry.tensor)}`);
      checked++;
    }
  }
  assert.ok(checked > 400, `checked ${checked} entries`);
});

test('golden UNet inputs and the fp16 checkpoint read back with the right values', (t) => {
  const inputs = SafetensorsFile.open(join(golden, 'cases', 'unet', 'inputs.safetensors'));
  t.after(() => inputs.close());
  assert.deepEqual(inputs.read('timestep_t500'), { dtype: 'int64', shape: [], data: new BigInt64Array([500n]) });
  assert.deepEqual(inputs.read('timestep_t999').data, new BigInt64Array([999n]));
  const sample = inputs.read('sample');
  assert.deepEqual(sample.shape, [2, 4, 16, 16]);
  assert.ok((sample.data as Float32Array).every(Number.isFinite));

  const fp16 = SafetensorsFile.open(join(golden, 'models', 'single_file', 'expert2_fp16.safetensors'));
  t.after(() => fp16.close());
  assert.equal(fp16.names().length, 964);
  const name = 'cond_stage_model.transformer.text_model.embeddings.position_embedding.weight';
  const lazy = fp16.get(name);
  assert.equal(lazy.storedDtype, 'F16');
  assert.deepEqual(lazy.shape, [77, 32]);
  assert.equal(lazy.read().data.length, 77 * 32);
});

test('a full disk is a disk-full UserError and leaves no file', (t) => {
  // A real full disk: a 64 kB tmpfs mounted in a private mount namespace (invisible to the rest of
  // the machine, gone when the child exits). Needs root and unshare; skipped where unavailable.
  const dir = scratch(t);
  const disk = join(dir, 'disk');
  mkdirSync(disk);
  const script = join(dir, 'fill.ts');
  writeFileSync(
    script,
    `import { readdirSync } from 'node:fs';
import { writeSafetensors } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'app', 'tensor', 'safetensors.ts'))};
import { tensor } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'app', 'tensor', 'tensor.ts'))};
const disk = process.argv[2];
let code = 'none';
try {
  writeSafetensors(disk + '/big.safetensors', { big: tensor('float32', [262144], new Float32Array(262144).fill(1)) });
} catch (error) {
  code = error.code + ': ' + error.message;
}
console.log(JSON.stringify({ code, files: readdirSync(disk) }));
`,
  );
  const child = spawnSync(
    'unshare',
    ['-m', 'sh', '-c', 'mount -t tmpfs -o size=64k none "$1" && exec "$2" --import tsx "$3" "$1"', 'sh', disk, process.execPath, script],
    { encoding: 'utf8', cwd: join(import.meta.dirname, '..', '..') },
  );
  if (child.status !== 0 && !child.stdout.includes('{')) {
    t.skip(`cannot mount a small tmpfs here (${(child.stderr || String(child.error)).trim().split('\n')[0]})`);
    return;
  }
  const result = JSON.parse(child.stdout) as { code: string; files: string[] };
  assert.match(result.code, /^disk-full: Not enough disk space to write .*big\.safetensors/);
  assert.deepEqual(result.files, []);
});
