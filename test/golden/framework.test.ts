// Tests of the golden framework itself on a tiny fake golden directory (written with the app's own
// safetensors writer and pngjs) and fake kinds.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { writeSafetensors } from '../../app/tensor/safetensors.ts';
import { tensor } from '../../app/tensor/tensor.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import type { CaseKind, CaseOutput } from './case-kind.ts';
import { compareTensors } from './compare.ts';
import { discoverKinds, runGolden } from './golden-runner.ts';
import type { CaseResult, GoldenReport } from './golden-runner.ts';
import { selectJson } from './json-path.ts';
import { loadManifest, ManifestError } from './manifest.ts';
import { parsePythonJson } from './python-json.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function temporary(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'golden-framework-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const X = new Float32Array([0.5, -1, 2, 3.25, 0, 1e-3]);
const WIDTH = 4;
const HEIGHT = 2;

function pixels(): Uint8Array {
  return Uint8Array.from({ length: WIDTH * HEIGHT * 3 }, (_, i) => (i * 37) % 256);
}

/** A golden directory with inputs, outputs, a PNG and a JSON file, and a manifest of `cases`. */
function writeGoldenDir(dir: string, cases: unknown[]): void {
  mkdirSync(join(dir, 'cases'), { recursive: true });
  writeSafetensors(join(dir, 'cases', 'inputs.safetensors'), { x: tensor('float32', [2, 3], X) });
  writeSafetensors(join(dir, 'cases', 'outputs.safetensors'), {
    // Golden y = 2x, slightly off (2e-7) as a real fp32-vs-reference difference would be.
    y: tensor('float32', [2, 3], X.map((v) => 2 * v + 2e-7)),
    y64: tensor('float64', [2, 3], Float64Array.from(X, (v) => 2 * v)),
    ids: tensor('int64', [3], new BigInt64Array([49406n, 320n, 49407n])),
    big: tensor('float32', [2], new Float32Array([1000, -2000])),
  });
  writeSafetensors(join(dir, 'cases', 'grads.safetensors'), {
    'agg.a': tensor('float32', [2], new Float32Array([1, 2])),
    'agg.b': tensor('float32', [1], new Float32Array([5])),
  });
  const png = new PNG({ width: WIDTH, height: HEIGHT });
  const rgb = pixels();
  for (let p = 0; p < WIDTH * HEIGHT; p++) {
    png.data[p * 4] = rgb[p * 3]!;
    png.data[p * 4 + 1] = rgb[p * 3 + 1]!;
    png.data[p * 4 + 2] = rgb[p * 3 + 2]!;
    png.data[p * 4 + 3] = 255;
  }
  writeFileSync(join(dir, 'cases', 'image.png'), PNG.sync.write(png));
  writeFileSync(join(dir, 'cases', 'prompts.json'), JSON.stringify([{ text: 'a cat' }, { text: 'a dog' }]));
  // Written as Python would: -Infinity is not JSON, the loader must accept it.
  const manifest = JSON.stringify({ schema: 'sd-afa-golden/1', config: { lambda: 'MARK' }, cases }, null, 1).replace('"MARK"', '-Infinity');
  writeFileSync(join(dir, 'manifest.json'), manifest);
}

const x = { type: 'tensor', file: 'cases/inputs.safetensors', tensor: 'x', shape: [2, 3], dtype: 'F32' };
const y = { type: 'tensor', file: 'cases/outputs.safetensors', tensor: 'y', shape: [2, 3], dtype: 'F32', atol: 1e-6, rtol: 0 };
const ids = { type: 'tensor', file: 'cases/outputs.safetensors', tensor: 'ids', shape: [3], dtype: 'I64', atol: 0, rtol: 0 };

/** Kind 'double': y = 2x (+ params.offset), plus whatever else params ask for. */
const double: CaseKind = {
  kind: 'double',
  async run(testCase, context) {
    const input = context.readInput('x').data as Float32Array;
    const offset = (testCase.params?.offset as number | undefined) ?? 0;
    assert.ok(existsSync(context.scratch), 'scratch exists while the case runs');
    writeFileSync(join(context.scratch, 'work.bin'), 'x');
    scratchDirs.push(context.scratch);
    const outputs: Record<string, CaseOutput> = {
      y: tensor('float32', [2, 3], input.map((v) => 2 * v + offset)),
      y64: tensor('float32', [2, 3], input.map((v) => 2 * v)),
      ids: tensor('int64', [3], new BigInt64Array([49406n, 320n, 49407n + BigInt((testCase.params?.idShift as number | undefined) ?? 0)])),
      sigma: { value: 14.614645004272461 + offset },
      sigma_tensor: tensor('float64', [], new Float64Array([14.614645])),
      image: { png: { width: WIDTH, height: HEIGHT, rgb: pixels().map((v, i) => (i === 5 ? Math.min(255, v + 1 + offset * 1000) : v)) } },
      prompts: { value: context.readJson(testCase.inputs!.prompts!) },
      big: tensor('float32', [2], new Float32Array([1000.5, -2001])),
    };
    if (testCase.params?.drop) delete outputs[testCase.params.drop as string];
    return outputs;
  },
};

const scratchDirs: string[] = [];

const throws: CaseKind = {
  kind: 'throws',
  async run() {
    throw new Error('the engine exploded');
  },
};

const set: CaseKind = {
  kind: 'set',
  async run(testCase) {
    const tensors = new Map<string, Tensor>([['agg.a', tensor('float32', [2], new Float32Array([1 + 1e-5, 2]))]]);
    if (!testCase.params?.missing) tensors.set('agg.b', tensor('float32', [1], new Float32Array([5 + ((testCase.params?.error as number) ?? 0)])));
    return { grads: { tensorSet: tensors } };
  },
};

const doubleCase = (id: string, outputs: Record<string, unknown>, params: Record<string, unknown> = {}) => ({
  id,
  kind: 'double',
  params,
  inputs: { x, prompts: { type: 'json', file: 'cases/prompts.json', json_path: '[*].text' } },
  outputs,
});

const grads = (extra: Record<string, unknown> = {}) => ({
  type: 'tensor_set',
  file: 'cases/grads.safetensors',
  dtype: 'F32',
  per_tensor_columns: ['atol', 'observed'],
  per_tensor: { 'agg.a': [2e-5, 1e-6], 'agg.b': [1e-3, 1e-6] },
  ...extra,
});

const CASES = [
  doubleCase('fake/pass', {
    y,
    y64: { type: 'tensor', file: 'cases/outputs.safetensors', tensor: 'y64', shape: [2, 3], dtype: 'F64', atol: 1e-6 },
    ids,
    sigma: { type: 'value', value: 14.614645004272461, atol: 1e-5 },
    sigma_tensor: { type: 'value', value: 14.614645004272461, atol: 1e-5 },
    image: { type: 'png', file: 'cases/image.png', atol: 1 },
    prompts: { type: 'value', value: ['a cat', 'a dog'] },
    big: { type: 'tensor', file: 'cases/outputs.safetensors', tensor: 'big', shape: [2], dtype: 'F32', atol: 0, rtol: 1e-3 },
    // Golden values the kind is not expected to reproduce: wrong on purpose, must not fail the case.
    alternative: { ...ids, reference_only: true },
  }),
  doubleCase('fake/too-far', { y, sigma: { type: 'value', value: 14.614645004272461, atol: 1e-5 }, image: { type: 'png', file: 'cases/image.png', atol: 1 } }, { offset: 1e-3 }),
  doubleCase('fake/ids-off', { ids }, { idShift: 1 }),
  doubleCase('fake/missing', { y, ids }, { drop: 'y' }),
  { id: 'fake/throws', kind: 'throws', outputs: { y } },
  { id: 'fake/nobody', kind: 'nobody', outputs: { y } },
  { id: 'fake/skipped', kind: 'skipme', outputs: { y } },
  doubleCase('fake/same-exact', { y_again: { type: 'same_as', case: 'fake/pass', output: 'y', exact: true } }),
  doubleCase('fake/same-differs', { y_again: { type: 'same_as', case: 'fake/pass', output: 'y', exact: true } }, { offset: 1e-7 }),
  doubleCase('fake/same-documented', { y_again: { type: 'same_as', case: 'fake/pass', output: 'y', exact: false } }, { offset: 1e-2 }),
  { id: 'fake/set', kind: 'set', outputs: { grads: grads() } },
  { id: 'fake/set-too-far', kind: 'set', params: { error: 2e-3 }, outputs: { grads: grads() } },
  { id: 'fake/set-missing', kind: 'set', params: { missing: true }, outputs: { grads: grads() } },
];

const fakeDir = mkdtempSync(join(tmpdir(), 'golden-framework-'));
after(() => rmSync(fakeDir, { recursive: true, force: true }));
writeGoldenDir(fakeDir, CASES);

/** One run of every fake case (the run is deterministic; tests look at different cases). */
const fake = runGolden(fakeDir, { kinds: [double, throws, set], skipKinds: ['skipme'] });

async function result(id: string): Promise<CaseResult> {
  const found = (await fake).cases.find((item) => item.id === id);
  assert.ok(found, `case ${id} was reported`);
  return found;
}

function output(caseResult: CaseResult, name: string) {
  const found = caseResult.outputs.find((item) => item.name === name);
  assert.ok(found, `output ${name} of ${caseResult.id}`);
  return found;
}

test('passing outputs of every type: tensors within atol, F64 golden vs float32, exact ints, values, PNG, rtol', async () => {
  const pass = await result('fake/pass');
  assert.equal(pass.status, 'pass', JSON.stringify(pass.outputs, null, 1));
  const yResult = output(pass, 'y');
  assert.equal(yResult.status, 'pass');
  assert.ok(yResult.maxAbsError! > 1e-7 && yResult.maxAbsError! < 3e-7, `max error ${yResult.maxAbsError}`);
  assert.equal(yResult.atol, 1e-6);
  assert.equal(output(pass, 'y64').status, 'pass');
  assert.equal(output(pass, 'ids').message, 'exact');
  assert.equal(output(pass, 'sigma_tensor').status, 'pass', 'a 0-d tensor is accepted as a value');
  assert.equal(output(pass, 'prompts').status, 'pass', 'json input read through json_path [*].text');
  assert.equal(output(pass, 'image').maxAbsError, 1, 'one channel off by 1 is within the PNG atol');
  assert.equal(output(pass, 'big').status, 'pass', 'errors 0.5 and 1 are within rtol 1e-3 of 1000 and 2000');
  assert.equal(pass.worst?.name, 'image', 'the worst output is the one closest to its tolerance (1 of atol 1)');
});

test('reference_only outputs are info and never fail, even when not computed', async () => {
  const alternative = output(await result('fake/pass'), 'alternative');
  assert.equal(alternative.status, 'info');
  assert.match(alternative.message, /reference only/);
});

test('errors beyond tolerance fail with the worst element, the limit and a count', async () => {
  const tooFar = await result('fake/too-far');
  assert.equal(tooFar.status, 'fail');
  assert.match(output(tooFar, 'y').message, /exceeds atol 0\.000001: 6 of 6 elements outside; worst at \[\d, \d\]/);
  assert.equal(output(tooFar, 'sigma').status, 'fail');
  const image = output(tooFar, 'image');
  assert.equal(image.status, 'fail');
  assert.match(image.message, /1 channel values differ by more than 1; max 2 at pixel \(x 1, y 0\) channel B/);
  const idsOff = await result('fake/ids-off');
  assert.equal(idsOff.status, 'fail');
  assert.match(output(idsOff, 'ids').message, /1 of 3 integers differ.*at \[2\]: ours 49408, golden 49407/);
});

test('an output the kind does not return fails', async () => {
  const missing = await result('fake/missing');
  assert.equal(missing.status, 'fail');
  assert.match(output(missing, 'y').message, /not computed/);
  assert.equal(output(missing, 'ids').status, 'pass');
});

test('a case that throws is an error with its message and the following cases still run', async () => {
  const thrown = await result('fake/throws');
  assert.equal(thrown.status, 'error');
  assert.match(thrown.error!, /the engine exploded/);
  assert.equal((await result('fake/set')).status, 'pass', 'a later case ran');
});

test('unregistered and skipped kinds are reported, and make the run fail / not fail', async () => {
  const report = await fake;
  assert.equal((await result('fake/nobody')).status, 'unsupported');
  assert.deepEqual(report.unregisteredKinds, ['nobody']);
  assert.equal((await result('fake/skipped')).status, 'skipped');
  assert.deepEqual(report.skippedKinds, ['skipme']);
  assert.equal(report.ok, false);
  assert.deepEqual(report.counts, { pass: 4, fail: 6, error: 1, unsupported: 1, skipped: 1 });
});

test("same_as compares with the other case's computed output: bitwise when exact, info when a difference is documented", async () => {
  const same = await result('fake/same-exact');
  assert.equal(same.status, 'pass');
  assert.match(output(same, 'y_again').message, /vs fake\/pass:y: bitwise equal/);
  const differs = await result('fake/same-differs');
  assert.equal(differs.status, 'fail');
  assert.match(output(differs, 'y_again').message, /not bitwise equal/);
  const documented = output(await result('fake/same-documented'), 'y_again');
  assert.equal(documented.status, 'info');
  assert.match(documented.message, /not required to match/);
});

test('same_as falls back to the golden output, with its tolerance, when the other case is not run', async () => {
  const report = await runGolden(fakeDir, { kinds: [double], caseFilter: ['fake/same-'] });
  assert.deepEqual(report.cases.map((item) => item.id), ['fake/same-exact', 'fake/same-differs', 'fake/same-documented']);
  const same = output(report.cases[0]!, 'y_again');
  assert.equal(same.status, 'pass');
  assert.match(same.message, /vs golden fake\/pass:y \('fake\/pass' was not run\)/);
  // Against golden data bitwise equality cannot be asked (ours never equals torch's bits): 1e-7 off passes atol 1e-6.
  assert.equal(output(report.cases[1]!, 'y_again').status, 'pass');
  const documented = output(report.cases[2]!, 'y_again');
  assert.equal(documented.status, 'info', 'exact: false without atol documents a difference');
});

test('tensor_set uses per-tensor atol and names missing tensors', async () => {
  const passing = output(await result('fake/set'), 'grads');
  assert.equal(passing.status, 'pass', passing.message);
  assert.equal(passing.atol, 2e-5, 'the worst tensor is agg.a (1e-5 of 2e-5)');
  const tooFar = output(await result('fake/set-too-far'), 'grads');
  assert.equal(tooFar.status, 'fail');
  assert.match(tooFar.message, /1 of 2 tensors outside tolerance; worst 'agg.b'/);
  const missing = output(await result('fake/set-missing'), 'grads');
  assert.equal(missing.status, 'fail');
  assert.match(missing.message, /1 of 2 tensors not computed \(e\.g\. agg\.b\)/);
});

test('every case ran in its own scratch directory, removed afterwards', async () => {
  await fake;
  assert.ok(scratchDirs.length >= 6);
  assert.equal(new Set(scratchDirs).size, scratchDirs.length);
  for (const dir of scratchDirs) assert.equal(existsSync(dir), false, `${dir} removed`);
});

test('filters by kind and case substring select cases', async () => {
  const byKind = await runGolden(fakeDir, { kinds: [double, throws, set], kindFilter: ['set'] });
  assert.deepEqual(byKind.cases.map((item) => item.id), ['fake/set', 'fake/set-too-far', 'fake/set-missing']);
  const byCase = await runGolden(fakeDir, { kinds: [double], caseFilter: ['fake/pass'] });
  assert.deepEqual(byCase.cases.map((item) => item.id), ['fake/pass']);
  assert.equal(byCase.ok, true);
  const none = await runGolden(fakeDir, { kinds: [double], caseFilter: ['no such case'] });
  assert.equal(none.ok, false, 'running nothing is not a success');
});

test('kinds are discovered from files exporting `kinds`; broken and duplicate registrations are reported', async (t) => {
  const dir = temporary(t);
  writeFileSync(join(dir, 'good.ts'), "export const kinds = [{ kind: 'double', run: async () => ({}) }];\n");
  writeFileSync(join(dir, 'again.ts'), "export const kinds = [{ kind: 'double', run: async () => ({}) }];\n");
  writeFileSync(join(dir, 'broken.ts'), "throw new Error('half-finished');\n");
  writeFileSync(join(dir, 'wrong.ts'), 'export const kinds = 3;\n');
  writeFileSync(join(dir, 'ignored.test.ts'), "throw new Error('tests are not kinds');\n");
  const { kinds, errors } = await discoverKinds(dir);
  assert.deepEqual([...kinds.keys()], ['double']);
  const messages = errors.map((error) => `${error.file.slice(dir.length + 1)}: ${error.message}`).sort();
  assert.equal(messages.length, 3);
  assert.match(messages[0]!, /^broken\.ts: half-finished/);
  assert.match(messages[1]!, /^good\.ts: kind 'double' is already registered by again\.ts/);
  assert.match(messages[2]!, /^wrong\.ts: it does not export `kinds/);
});

test('the CLI prints one row per case, names unregistered kinds and exits non-zero; --json writes results', (t) => {
  const dir = temporary(t);
  const kindsDir = join(dir, 'kinds');
  mkdirSync(kindsDir);
  writeFileSync(
    join(kindsDir, 'double.ts'),
    `import { tensor } from ${JSON.stringify(join(repoRoot, 'app', 'tensor', 'tensor.ts'))};
export const kinds = [{ kind: 'double', run: async (testCase, context) => ({ y: tensor('float32', [2, 3], context.readInput('x').data.map((v) => 2 * v)) }) }];\n`,
  );
  const golden = join(dir, 'golden');
  mkdirSync(golden);
  writeGoldenDir(golden, [
    { id: 'cli/pass', kind: 'double', inputs: { x }, outputs: { y } },
    { id: 'cli/nobody', kind: 'nobody', outputs: { y } },
    { id: 'cli/train', kind: 'train', outputs: { y } },
  ]);
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'golden', 'run-golden.ts'), golden, '--kinds-dir', kindsDir, ...args], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
  const jsonPath = join(dir, 'results.json');
  const failing = cli('--skip-kind', 'train', '--json', jsonPath);
  assert.equal(failing.status, 1, failing.stdout + failing.stderr);
  assert.match(failing.stdout, /^cli\/pass +double +\S+ \/ 1\.00e-6 +PASS /m);
  assert.match(failing.stdout, /^cli\/nobody +nobody .*UNSUPPORTED/m);
  assert.match(failing.stdout, /^cli\/train +train .*SKIPPED/m);
  assert.match(failing.stdout, /kinds with no runner in test\/golden\/kinds: nobody/);
  assert.match(failing.stdout, /kinds skipped on request: train/);
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as GoldenReport;
  assert.deepEqual(json.cases.map((item) => [item.id, item.status]), [['cli/pass', 'pass'], ['cli/nobody', 'unsupported'], ['cli/train', 'skipped']]);

  const passing = cli('--skip-kind', 'train', '--skip-kind', 'nobody');
  assert.equal(passing.status, 0, passing.stdout + passing.stderr);
  assert.match(passing.stdout, /3 cases: 1 passed, 0 failed, 0 errored, 0 unsupported, 2 skipped\nkinds skipped on request: nobody, train\nOK/);
  assert.equal(cli('--case', 'cli/pass').status, 0);
  assert.equal(cli('--bogus').status, 2);
});

test('manifest validation and Python-style JSON', (t) => {
  const dir = temporary(t);
  const write = (manifest: string) => writeFileSync(join(dir, 'manifest.json'), manifest);
  write(JSON.stringify({ schema: 'sd-afa-golden/2', cases: [] }));
  assert.throws(() => loadManifest(dir), (error: unknown) => error instanceof ManifestError && /schema "sd-afa-golden\/2" is not supported/.test(error.message));
  write(JSON.stringify({ schema: 'sd-afa-golden/1' }));
  assert.throws(() => loadManifest(dir), /'cases' is not an array/);
  write(JSON.stringify({ schema: 'sd-afa-golden/1', cases: [{ id: 'a', kind: 'k', outputs: {} }, { id: 'a', kind: 'k', outputs: {} }] }));
  assert.throws(() => loadManifest(dir), /case id 'a' appears twice/);
  write(JSON.stringify({ schema: 'sd-afa-golden/1', cases: [{ id: 'a', kind: 'k', outputs: { y: { type: 'tensor', file: 'f' } } }] }));
  assert.throws(() => loadManifest(dir), /outputs\.y \(tensor\) needs 'tensor'/);
  write(JSON.stringify({ schema: 'sd-afa-golden/1', cases: [{ id: 'a', kind: 'k', outputs: { y: { type: 'picture' } } }] }));
  assert.throws(() => loadManifest(dir), /unknown type "picture"/);
  write('{"schema": "sd-afa-golden/1", "cases": [], "x": [NaN, Infinity, -Infinity, "-Infinity", -1]}');
  const fields = loadManifest(dir).fields.x as unknown[];
  assert.ok(Number.isNaN(fields[0]));
  assert.deepEqual(fields.slice(1), [Infinity, -Infinity, '-Infinity', -1]);
  assert.deepEqual(parsePythonJson('{"a\\"NaN": "NaN \\" Infinity"}'), { 'a"NaN': 'NaN " Infinity' });
});

test('json_path selectors', () => {
  const data = { items: [{ text: 'a', n: [1, 2] }, { text: 'b', n: [3] }] };
  assert.deepEqual(selectJson(data, 'items[*].text'), ['a', 'b']);
  assert.deepEqual(selectJson(data, '$.items[1].n[0]'), 3);
  assert.deepEqual(selectJson([{ text: 'x' }], '[*].text'), ['x']);
  assert.throws(() => selectJson(data, 'items[5]'), /no element \[5\]/);
  assert.throws(() => selectJson(data, 'items..x'), /not understood/);
});

test('tensor comparison: NaN, shapes and dtype classes', () => {
  const f = (values: number[]) => tensor('float32', [values.length], Float32Array.from(values));
  assert.equal(compareTensors(f([NaN, 1]), f([NaN, 1]), { atol: 0, rtol: 0 }).ok, true, 'NaN where golden is NaN');
  const nan = compareTensors(f([NaN, 1]), f([0, 1]), { atol: 1, rtol: 0 });
  assert.equal(nan.ok, false);
  assert.equal(nan.maxAbsError, Infinity);
  assert.equal(compareTensors(f([Infinity]), f([Infinity]), { atol: 0, rtol: 0 }).ok, true);
  assert.match(compareTensors(f([1, 2]), tensor('float32', [1, 2], new Float32Array([1, 2])), { atol: 1, rtol: 0 }).message, /shape \[2\] differs from golden \[1, 2\]/);
  assert.match(compareTensors(f([1]), tensor('int64', [1], new BigInt64Array([1n])), { atol: 1, rtol: 0 }).message, /not comparable/);
  assert.equal(compareTensors(tensor('int32', [1], new Int32Array([7])), tensor('int64', [1], new BigInt64Array([7n])), { atol: 0, rtol: 0 }).ok, true);
  assert.equal(compareTensors(tensor('float16', [1], new Uint16Array([0x3c00])), f([1]), { atol: 0, rtol: 0 }).ok, true, 'fp16 compared by value');
});
