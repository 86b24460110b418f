// `afa` end to end, as a person or a script runs it: the real bin (bin/afa.js → tsx → app/cli/main.ts)
// in a child process, on the golden tiny models, in temporary studio homes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RELAUNCHED } from '../../app/cli/engine-relaunch.ts';
import { studioPaths } from '../../app/common/paths.ts';
import { storedModelFiles, readModelManifest } from '../../app/checkpoints/model-store.ts';
import { readImageSettings } from '../../app/images/metadata.ts';
import { decodePng, readPngText } from '../../app/images/png.ts';
import { Library } from '../../app/library/library.ts';
import { filesUnder, repoRoot, temporaryDirectory, TINY_FOLDER, TINY_SINGLE_FILE } from '../pipeline/tiny-model.ts';
import { goldenExpertFolders } from '../ensemble/golden-experts.ts';
import { a1111Png } from '../images/foreign-fixtures.ts';

const BIN = join(repoRoot, 'bin', 'afa.js');
const TINY_CONFIGS = TINY_FOLDER; // a diffusers-style folder: unet/, text_encoder/, vae/ config.json

/** Expert 1 of the official AFA folder as a plain diffusers folder (the AFA folder itself imports all three experts). */
function expertOneFolder(t: { after(fn: () => void): void }): string {
  return goldenExpertFolders(temporaryDirectory(t, 'afa-cli-expert-'))[0]!;
}

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function afa(home: string, ...args: string[]): Run {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, AFA_STUDIO_HOME: home, AFA_STUDIO_DEMO_PACK: 'none' }, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function json(run: Run): Record<string, unknown> & { ok: boolean } {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown> & { ok: boolean };
  } catch {
    assert.fail(`stdout is not one JSON document (status ${run.status}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

function expectStatus(run: Run, status: number): void {
  assert.equal(run.status, status, `exit status ${run.status}, expected ${status}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
}

const pixels = (path: string) => decodePng(readFileSync(path)).data;

test('help: every command is listed and explained; a wrong command or option is a usage error (2)', () => {
  const home = '/nonexistent-afa-home';
  const help = afa(home, '--help');
  expectStatus(help, 0);
  for (const command of ['import', 'models', 'generate', 'serve']) assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
  assert.match(help.stdout, /Exit status: 0 done · 2 bad input/);
  const generateHelp = afa(home, 'generate', '--help');
  expectStatus(generateHelp, 0);
  assert.match(generateHelp.stdout, /--sampler <name> +ddim \| euler \| euler-a \| dpmpp-2m \| dpmpp-2m-karras \| pndm \| lms/);
  assert.match(generateHelp.stdout, /Examples:/);
  // One truth for precision: the stored one, fp32 unless asked (what `afa models` and the Models screen show).
  assert.match(afa(home, 'import', '--help').stdout, /--precision fp32\|fp16 +Stored precision \(default fp32 for every file/);
  expectStatus(afa(home), 2);
  const unknown = afa(home, 'genrate');
  expectStatus(unknown, 2);
  assert.match(unknown.stderr, /Unknown command 'genrate'\. Did you mean: generate\?/);
  const option = afa(home, 'generate', '--stepz', '3');
  expectStatus(option, 2);
  assert.match(option.stderr, /Unknown option --stepz for 'afa generate'\. Run 'afa generate --help'/);
});

test('import → models → generate → the PNG’s settings reproduce the image bit for bit', async (t) => {
  const home = temporaryDirectory(t, 'afa-cli-');
  const out = temporaryDirectory(t, 'afa-cli-out-');

  const folder = json(afa(home, 'import', expertOneFolder(t), '--name', 'Tiny expert', '--json', '--progress', 'none'));
  const [folderModel] = folder.models as { id: string; name: string; tokenizer: string; shortHash: string }[];
  assert.equal(folderModel?.name, 'Tiny expert');
  assert.equal(folderModel?.tokenizer, 'tokenizer');
  const single = afa(home, 'import', TINY_SINGLE_FILE, '--config-dir', TINY_CONFIGS);
  expectStatus(single, 0);
  assert.match(single.stderr, /Imported expert1_fp32: fp32, .*, its own tokenizer\n/);
  const models = json(afa(home, 'models', '--json')).models as { name: string }[];
  assert.deepEqual(models.map((model) => model.name).sort(), ['Tiny expert', 'expert1_fp32']);
  assert.match(afa(home, 'models').stdout, /^ID +NAME +PRECISION/);

  await t.test('generate writes the image where asked and reports the seed', () => {
    const run = afa(home, 'generate', '-m', folderModel!.id.slice(0, 8), '-p', 'a photo of a cat, sofa', '-n', 'blurry', '--size', '64x64',
      '--steps', '3', '--cfg', '6', '--sampler', 'dpmpp-2m', '--seed', '1234', '--out', join(out, 'a.png'), '--json');
    const result = json(run);
    const [image] = result.images as { seed: number; out: string; path: string; width: number }[];
    assert.equal(image?.seed, 1234);
    assert.equal(image?.out, join(out, 'a.png'));
    assert.ok(existsSync(image!.path), 'the image is in the studio history too');
    assert.match(run.stderr, /Loading 3 models… 0\/3\n(.*\n)*Loading 3 models… 3\/3\n(.*\n)*Encoding the prompt/, 'the load is a phase of its own, before the prompt');
    assert.match(run.stderr, /Denoising 3\/3/);
  });

  await t.test('the PNG carries AUTOMATIC1111 parameters and the studio record', () => {
    const text = readPngText(join(out, 'a.png'));
    const parameters = text.get('parameters') ?? '';
    assert.match(parameters, /^a photo of a cat, sofa\nNegative prompt: blurry\n/);
    for (const field of ['Steps: 3', 'Sampler: DPM++ 2M', 'CFG scale: 6', 'Seed: 1234', 'Size: 64x64', `Model hash: ${folderModel!.shortHash}`, 'Model: Tiny expert']) {
      assert.ok(parameters.includes(field), `parameters lack '${field}': ${parameters}`);
    }
    const settings = readImageSettings(join(out, 'a.png'))?.settings;
    assert.equal(settings?.sampler, 'dpmpp-2m');
    assert.equal(settings?.negativePrompt, 'blurry');
    assert.equal(settings?.recipe.members[0]?.modelId, folderModel!.id);
  });

  await t.test('--from the PNG alone makes the same pixels; so does the same command again', () => {
    expectStatus(afa(home, 'generate', '--from', join(out, 'a.png'), '--out', join(out, 'b.png'), '--progress', 'none'), 0);
    assert.deepEqual(pixels(join(out, 'b.png')), pixels(join(out, 'a.png')));
    expectStatus(afa(home, 'generate', '-m', 'Tiny expert', '-p', 'a photo of a cat, sofa', '-n', 'blurry', '--size', '64x64',
      '--steps', '3', '--cfg', '6', '--sampler', 'dpmpp-2m', '--seed', '1234', '--out', join(out, 'c.png'), '--progress', 'none'), 0);
    assert.deepEqual(pixels(join(out, 'c.png')), pixels(join(out, 'a.png')));
  });

  await t.test('without --seed a random seed is used and reported', () => {
    const run = afa(home, 'generate', '-m', 'Tiny expert', '-p', 'a lighthouse', '--size', '64x64', '--steps', '2', '--batch', '2', '--out', join(out, 'r.png'));
    expectStatus(run, 0);
    const seeds = [...run.stdout.matchAll(/\(seed (\d+)/g)].map((match) => Number(match[1]));
    assert.equal(seeds.length, 2);
    assert.equal(seeds[1], seeds[0]! + 1);
    assert.match(run.stderr, new RegExp(`seeds ${seeds[0]}…${seeds[1]}`));
    assert.ok(existsSync(join(out, 'r-1.png')) && existsSync(join(out, 'r-2.png')));
  });

  await t.test('sizes that are multiples of 8 but not of 64 generate; a model stored with an older U-Net graph is rebuilt on first use', () => {
    // As a studio before the explicit-size upsamplers left it: no unetGraphVersion in the manifest.
    const manifestPath = join(storedModelFiles(home, readModelManifest(home, folderModel!.id)!).dir, 'model.json');
    const { unetGraphVersion, ...older } = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    assert.equal(unetGraphVersion, 2);
    writeFileSync(manifestPath, JSON.stringify(older));
    for (const size of ['128x96', '72x64', '104x104']) {
      const run = afa(home, 'generate', '-m', 'Tiny expert', '-p', 'x', '--size', size, '--steps', '2', '--seed', '3', '--out', join(out, `size-${size}.png`), '--json');
      const [image] = json(run).images as { width: number; height: number }[];
      assert.equal(`${image?.width}x${image?.height}`, size);
    }
    assert.equal(readModelManifest(home, folderModel!.id)?.unetGraphVersion, 2);
    assert.match(afa(home, 'generate', '--help').stdout, /--size <W>x<H> +Size in pixels, multiples of 8, 64–2048/);
  });

  await t.test('--from an AUTOMATIC1111 PNG whose model is not imported names that model instead of listing options', () => {
    const png = join(out, 'a1111.png');
    writeFileSync(png, a1111Png());
    const run = afa(home, 'generate', '--from', png, '--steps', '2');
    expectStatus(run, 2);
    assert.match(run.stderr, /a1111\.png was made with dreamshaper_8 \(hash 879db523c3\), which is not imported\. Import it .*or pick a model with -m <model>\./);
    // Picking a model runs it with the image's other settings.
    expectStatus(afa(home, 'generate', '--from', png, '-m', 'Tiny expert', '--steps', '2', '--size', '64x64', '--out', join(out, 'from-a1111.png')), 0);
    assert.match(readPngText(join(out, 'from-a1111.png')).get('parameters') ?? '', /^a lighthouse on a cliff, storm/);
  });

  await t.test('bad parameters exit with 2 and say what to do', () => {
    const cases: [string[], RegExp][] = [
      [['--size', '100x64'], /The width must be a multiple of 8 .* got 100\. Try 96 or 104\./],
      [['--size', 'large'], /--size must look like 512x768/],
      [['--sampler', 'heun'], /Unknown sampler 'heun'\. Choose one of: ddim, euler, euler-a, dpmpp-2m, dpmpp-2m-karras, pndm, lms\./],
      [['--steps', 'many'], /--steps needs a whole number, got 'many'/],
      [['--out', join(out, 'missing', 'x.png')], /The folder of --out, .* does not exist/],
      [['--precision', 'fp8'], /--precision must be auto, fp32 or fp16; got 'fp8'/],
    ];
    for (const [extra, message] of cases) {
      const steps = extra.includes('--steps') ? [] : ['--steps', '2'];
      const run = afa(home, 'generate', '-m', 'Tiny expert', '-p', 'x', ...steps, ...extra);
      expectStatus(run, 2);
      assert.match(run.stderr, message);
    }
    const unknown = json(afa(home, 'generate', '-m', 'deadbeef00', '-p', 'x', '--json'));
    assert.deepEqual(unknown, {
      ok: false,
      error: { name: 'UserError', code: 'not-found', message: "No imported model matches 'deadbeef00'.", hint: 'Run `afa models` to list the imported models and their ids.' },
    });
    // The single file was imported with a config folder that has tokenizer/: it generates with it.
    expectStatus(afa(home, 'generate', '-m', 'expert1_fp32', '-p', 'x', '--size', '64x64', '--steps', '2', '--out', join(out, 's.png')), 0);
    // Imported with configs but no tokenizer, it gets the bundled 49,408-token vocabulary, which does not fit.
    const configsOnly = temporaryDirectory(t, 'afa-cli-configs-');
    for (const component of ['unet', 'text_encoder', 'vae']) {
      mkdirSync(join(configsOnly, component));
      cpSync(join(TINY_CONFIGS, component, 'config.json'), join(configsOnly, component, 'config.json'));
    }
    const other = temporaryDirectory(t, 'afa-cli-other-');
    expectStatus(afa(other, 'import', TINY_SINGLE_FILE, '--config-dir', configsOnly, '--progress', 'none'), 0);
    const tokenizer = afa(other, 'generate', '-m', 'expert1_fp32', '-p', 'x', '--size', '64x64', '--steps', '2');
    expectStatus(tokenizer, 2);
    assert.match(tokenizer.stderr, /text encoder of 1000 tokens, but its tokenizer .* has 49408\. This checkpoint needs its own tokenizer/);
  });
});

test('a damaged model file is an engine failure (exit 3), recorded in history with its error', async (t) => {
  const home = temporaryDirectory(t, 'afa-cli-broken-');
  const imported = json(afa(home, 'import', expertOneFolder(t), '--json', '--progress', 'none'));
  const [model] = imported.models as { id: string }[];
  writeFileSync(storedModelFiles(home, readModelManifest(home, model!.id)!).unet, 'not a model');
  const run = afa(home, 'generate', '-m', model!.id, '-p', 'x', '--size', '64x64', '--steps', '2', '--seed', '8', '--json');
  expectStatus(run, 3);
  assert.match(run.stderr, /^afa: the engine failed: The model file .*unet\.onnx cannot be read/m);
  assert.equal((json(run).error as { code: string }).code, 'engine');
  const library = Library.open({ home });
  try {
    const [row] = library.generations.list({ status: 'failed' }).items;
    assert.equal(row?.settings.seed, 8);
    assert.equal(row?.imagePath, null);
  } finally {
    library.close();
  }
});

interface ChildProcessInfo {
  readonly pid: number;
  /** Its environment as the kernel shows it (as the process started, before glibc rewrote any of it). */
  readonly environment: string[];
}

/** The processes whose parent is `pid` (Linux's /proc). */
function childProcesses(pid: number): ChildProcessInfo[] {
  const children: ChildProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after its ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      children.push({ pid: Number(name), environment: readFileSync(`/proc/${name}/environ`, 'utf8').split('\0') });
    } catch {
      // The process ended while it was read.
    }
  }
  return children;
}

test('Ctrl+C cancels within a step: exit 130, no image, no history row, no --out file', async (t) => {
  const home = temporaryDirectory(t, 'afa-cli-cancel-');
  expectStatus(afa(home, 'import', expertOneFolder(t), '--progress', 'none'), 0);
  const outFile = join(home, 'never.png');
  const child = spawn(process.execPath, [BIN, 'generate', '-m', 'expert1', '-p', 'x', '--size', '64x64', '--steps', '500', '--progress', 'json', '--out', outFile], {
    env: { ...process.env, AFA_STUDIO_HOME: home, AFA_STUDIO_DEMO_PACK: 'none' },
  });
  let stderr = '';
  let engineProcesses: ChildProcessInfo[] = [];
  let grandchildren: ChildProcessInfo[] = [];
  let interruptedAt: number | undefined;
  let lastStep = 0;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    for (const line of chunk.split('\n')) {
      if (!line.startsWith('{')) continue;
      const event = JSON.parse(line) as { phase: string; step: number };
      if (event.phase !== 'denoise') continue;
      lastStep = event.step;
      if (interruptedAt === undefined) {
        interruptedAt = event.step;
        if (process.platform === 'linux') {
          engineProcesses = childProcesses(child.pid!);
          grandchildren = engineProcesses.flatMap((engine) => childProcesses(engine.pid));
        }
        child.kill('SIGINT');
      }
    }
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(status, 130, stderr);
  assert.match(stderr, /afa: Cancelled: the image in progress was not saved\./);
  // On Linux the generation ran in a child started with the engine's malloc settings, and the SIGINT
  // sent to the command's own process reached it (engine-relaunch.ts); that child ran it itself.
  if (process.platform === 'linux') {
    assert.equal(engineProcesses.length, 1, 'one relaunched child');
    assert.ok(engineProcesses[0]!.environment.includes(`${RELAUNCHED}=1`));
    assert.ok(engineProcesses[0]!.environment.some((entry) => entry.startsWith('GLIBC_TUNABLES=glibc.malloc.')));
    assert.deepEqual(grandchildren, [], 'the relaunched child is not relaunched again');
  }
  // "Within one step" is pinned by the engine test (it cancels from a progress event); here the signal
  // crosses a process boundary, so only check that the run stopped long before its 500 steps.
  assert.ok(interruptedAt !== undefined && lastStep < 500, `stopped early (interrupted at step ${interruptedAt}, last step ${lastStep})`);
  assert.equal(existsSync(outFile), false);
  const paths = studioPaths(home);
  assert.deepEqual([...filesUnder(paths.images), ...filesUnder(paths.thumbnails), ...filesUnder(paths.temp)], []);
  const library = Library.open({ home });
  try {
    assert.equal(library.generations.count({ status: ['done', 'failed', 'cancelled', 'queued', 'running'] }), 0);
  } finally {
    library.close();
  }
});

test('a studio home that cannot be written is refused before any work: exit 2, naming the folder, --home and AFA_STUDIO_HOME; serve too', (t) => {
  const scratch = temporaryDirectory(t, 'afa-cli-readonly-');
  const home = join(scratch, 'home');
  mkdirSync(home);
  chmodSync(scratch, 0o755);
  chmodSync(home, 0o555);
  t.after(() => existsSync(home) && chmodSync(home, 0o755));
  // root writes through permission bits: run the command as an unprivileged user then.
  const as = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const run = (...args: string[]) => {
    const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, AFA_STUDIO_HOME: home, AFA_STUDIO_DEMO_PACK: 'none' }, timeout: 60_000, ...as });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const started = Date.now();
  for (const args of [
    ['generate', '-m', 'anything', '-p', 'x', '--steps', '2'],
    ['import', TINY_SINGLE_FILE, '--config-dir', TINY_CONFIGS],
    ['serve', '--port', '0'],
  ]) {
    const result = run(...args);
    expectStatus(result, 2);
    assert.match(result.stderr, new RegExp(`The studio home ${home} cannot be written to \\(.*permission denied\\)`));
    assert.match(result.stderr, /--home <folder> or the AFA_STUDIO_HOME environment variable/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.ok(Date.now() - started < 30_000, 'refused at once, not after the work');
  assert.deepEqual(filesUnder(home), []);
  // Reading still works.
  expectStatus(run('models'), 0);
});

test('an official AFA folder imports every expert, named after the folder, and its aggregators bound to them on request', (t) => {
  const home = temporaryDirectory(t, 'afa-cli-afa-folder-');
  const run = afa(home, 'import', TINY_FOLDER, '--name', 'Trio', '--json', '--progress', 'none');
  const first = json(run);
  const models = first.models as { id: string; name: string }[];
  assert.deepEqual(models.map((model) => model.name), ['Trio 1', 'Trio 2', 'Trio 3']);
  assert.match(run.stderr, new RegExp(`afa aggregators import ${TINY_FOLDER} --models ${models.map((m) => m.id.slice(0, 12)).join(',')}`));
  const again = json(afa(home, 'import', TINY_FOLDER, '--aggregators', '--json', '--progress', 'none'));
  const aggregatorId = again.aggregatorId as string;
  assert.match(aggregatorId, /^agg-[0-9a-f]{16}$/);
  const listed = json(afa(home, 'aggregators', '--json')).aggregators as { id: string; expertHashes: string[] }[];
  assert.deepEqual(listed.find((set) => set.id === aggregatorId)?.expertHashes, models.map((m) => m.id));
  expectStatus(afa(home, 'ensemble', 'create', 'Trio', '--models', 'Trio 1,Trio 2,Trio 3', '--method', 'afa', '--aggregator', aggregatorId), 0);
  // In another order the experts are not the ones the set was trained for.
  const swapped = afa(home, 'ensemble', 'create', 'Swapped', '--models', 'Trio 2,Trio 1,Trio 3', '--method', 'afa', '--aggregator', aggregatorId);
  expectStatus(swapped, 2);
  assert.match(swapped.stderr, /trained for the experts .*\(in that order\)/);
  // Recipes that could never run are not saved; a set that fits is named.
  const bare = afa(home, 'ensemble', 'create', 'Bare', '--models', 'Trio 1,Trio 2,Trio 3', '--method', 'afa');
  expectStatus(bare, 2);
  assert.match(bare.stderr, new RegExp(`names no trained aggregators\\. The aggregator set ${aggregatorId} was trained for exactly these models: pick it \\(--aggregator ${aggregatorId}\\)`));
  const pair = afa(home, 'ensemble', 'create', 'Pair', '--models', 'Trio 1,Trio 2', '--method', 'afa', '--aggregator', aggregatorId);
  expectStatus(pair, 2);
  assert.match(pair.stderr, /trained for 3 experts and the recipe has 2/);
  assert.deepEqual((json(afa(home, 'ensemble', 'list', '--json')).recipes as { name: string }[]).map((r) => r.name), ['Trio']);
});
