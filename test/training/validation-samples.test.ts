// Sample images at validation on the golden tiny experts (64 px, 4 steps, a validation every 2 steps):
// a run draws its validation captions with fixed seeds at steps 0, 2 and 4; the images are what the
// studio's AFA recipe path (its lock-step graph with the aggregators as weights, EnsembleDenoiser with
// the members' own text encoders, DDIM, the VAE decoder) draws with the weights of that step; another
// run with the same seed — paused while drawing its samples and resumed — writes the same bytes.
// The training graph is compiled once for the file and reused by every run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseClipTextConfig } from '../../app/models/clip-text-config.ts';
import { saveComponent } from '../../app/models/compile-component.ts';
import { loadAggregatorSet, type AggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import { buildLockStepGraph, type Expert } from '../../app/ensemble/lock-step-graph.ts';
import { compileEnsembleGraph } from '../../app/ensemble/compile-ensemble.ts';
import { EnsembleDenoiser } from '../../app/ensemble/ensemble-denoiser.ts';
import { createModelRuntime, CachedModel } from '../../app/pipeline/model-runtime.ts';
import { createSampler } from '../../app/pipeline/create-sampler.ts';
import { generateImage } from '../../app/pipeline/text-to-image.ts';
import type { LatentDecoder } from '../../app/pipeline/denoiser.ts';
import { decodePng, readPngText } from '../../app/images/png.ts';
import type { NoiseScheduleConfig } from '../../app/schedulers/scheduler-config.ts';
import { ClipTokenizer } from '../../app/tokenizer/clip-tokenizer.ts';
import type { TrainingSession } from '../../app/training/training-session.ts';
import { openFolderEncoders, openFolderSampleDecoder, type TrainingEncoders } from '../../app/training/training-encoders.ts';
import { runAfaTrainingJob, type AfaTrainingJobOptions, type AfaTrainingResult, type TrainingEvent } from '../../app/training/afa-training-job.ts';
import { listSamples, samplesDir } from '../../app/training/validation-samples.ts';
import { scanImageDataset, type ImageDataset } from '../../app/datasets/image-dataset.ts';
import { isCancelled } from '../../app/common/errors.ts';
import { goldenExpertFolders, scratchDir } from '../ensemble/golden-experts.ts';
import { goldenNoiseSchedule, goldenRunOptions, goldenTrainingSession, goldenUnets } from './golden-training.ts';
import { writeGeneratedDataset } from '../datasets/generated-dataset.ts';

const scratch = scratchDir('afa-train-samples-');
const session = { intraOpThreads: 2 };
let folders: string[];
let encoders: TrainingEncoders;
let decoder: LatentDecoder & { release(): Promise<void> };
let trainingSession: TrainingSession;
let experts: Expert[];
let dataset: ImageDataset;
let noiseSchedule: NoiseScheduleConfig;
const SAMPLE_STEPS = 6;
const settings = {
  resolution: 64,
  steps: 4,
  batchSize: 2,
  microBatch: 2,
  lr: 3e-3,
  seed: 5,
  validationShare: 0.25,
  validationEvery: 2,
  validationTimesteps: [500],
  checkpointEvery: 1,
  keepCheckpoints: 2,
  sampleCount: 2,
  sampleSteps: SAMPLE_STEPS,
  sampleSeed: 11,
};

before(async () => {
  const started = performance.now();
  folders = goldenExpertFolders(scratch);
  experts = goldenUnets();
  encoders = await openFolderEncoders(folders, join(scratch, 'encoders'), session);
  decoder = openFolderSampleDecoder(folders[0]!, join(scratch, 'decoder'), session);
  dataset = scanImageDataset(await writeGeneratedDataset(join(scratch, 'data'), 8));
  noiseSchedule = goldenNoiseSchedule();
  trainingSession = await goldenTrainingSession(experts, 2, join(scratch, 'graph'), session);
  console.log(`preparation (encoders, decoder, dataset, training graph): ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

after(async () => {
  await trainingSession?.release();
  await encoders?.release();
  await decoder?.release();
  rmSync(scratch, { recursive: true, force: true });
});

function job(runDir: string, extra: Partial<AfaTrainingJobOptions> = {}): AfaTrainingJobOptions {
  return { ...goldenRunOptions({ scratch, experts, encoders, dataset, settings, session }, runDir), trainingSession, skipReference: true, sampleDecoder: decoder, ...extra };
}

/** Every file under a run's samples folder, by relative name. */
function sampleFiles(runDir: string): Map<string, Buffer> {
  const root = samplesDir(join(scratch, runDir));
  const files = new Map<string, Buffer>();
  for (const step of readdirSync(root).sort()) for (const name of readdirSync(join(root, step)).sort()) files.set(`${step}/${name}`, readFileSync(join(root, step, name)));
  return files;
}

/** What the studio's AFA recipe path draws for `prompt` and `seed` with these aggregators: RGB bytes. */
async function studioGeneration(aggregators: AggregatorSet, name: string, prompt: string, seed: number): Promise<Uint8Array> {
  const runtime = createModelRuntime({ sessionOptions: session });
  const compiled = await compileEnsembleGraph(buildLockStepGraph(experts, { kind: 'aggregators', aggregators }, { name }), join(scratch, name), { session });
  try {
    const textEncoders = folders.map((folder, k) => {
      const component = openDiffusersComponent(join(folder, 'text_encoder'), parseClipTextConfig);
      const path = saveComponent({ kind: 'text-encoder', config: component.config, weights: component.weights }, join(scratch, `${name}-text-${k}`)).get('text_encoder')!;
      return { tokenizer: ClipTokenizer.fromDiffusersFolder(join(folder, 'tokenizer')), model: new CachedModel(path, runtime) };
    });
    const denoiser = new EnsembleDenoiser(textEncoders, { run: (feeds, outputs) => compiled.session.run(feeds, outputs) });
    const scheduler = createSampler({ sampler: 'ddim', steps: SAMPLE_STEPS, eta: 0 }, noiseSchedule);
    const result = await generateImage(denoiser, decoder, { prompt, negativePrompt: '', width: 64, height: 64, guidance: 7.5, seed, scheduler });
    return result.rgb.rgb;
  } finally {
    await compiled.release();
    await runtime.sessions.clear();
  }
}

/** The largest difference between a decoded PNG's RGBA pixels and RGB bytes. */
function maxDifference(rgba: Uint8Array, rgb: Uint8Array): number {
  assert.equal(rgba.length / 4, rgb.length / 3);
  let max = 0;
  for (let p = 0; p < rgb.length / 3; p++) for (let c = 0; c < 3; c++) max = Math.max(max, Math.abs(rgba[p * 4 + c]! - rgb[p * 3 + c]!));
  return max;
}

let uninterrupted: AfaTrainingResult;

test('a run draws its validation captions with fixed seeds at every validation, with the weights of that step', async () => {
  const events: Extract<TrainingEvent, { kind: 'validation' }>[] = [];
  const started = performance.now();
  uninterrupted = await runAfaTrainingJob(job('full', { onEvent: (event) => event.kind === 'validation' && events.push(event) }));
  const seconds = (performance.now() - started) / 1000;
  const samples = listSamples(join(scratch, 'full'));
  assert.deepEqual(samples.map((s) => s.step), [0, 2, 4]);
  assert.deepEqual(events.map((e) => e.samples?.step), [0, 2, 4]);
  assert.deepEqual(events.map((e) => e.samples?.images.map((image) => image.file)), samples.map((s) => s.images.map((image) => image.file)));
  const validationCaptions = new Set(dataset.items.map((item) => item.caption));
  for (const step of samples) {
    assert.deepEqual(step.images.map((image) => image.seed), [11, 12]);
    for (const image of step.images) {
      assert.ok(validationCaptions.has(image.prompt), image.prompt);
      const png = readFileSync(image.file);
      const pixels = decodePng(png);
      assert.deepEqual([pixels.width, pixels.height], [64, 64]);
      assert.match(readPngText(png).get('parameters') ?? '', new RegExp(`Steps: ${SAMPLE_STEPS}, Sampler: DDIM, CFG scale: 7.5, Seed: ${image.seed}, Size: 64x64, Training step: ${step.step}`));
    }
  }
  assert.equal(samples[0]!.images.length, 2);
  assert.notEqual(samples[0]!.images[0]!.prompt, samples[0]!.images[1]!.prompt);
  const { samples: sampleSeconds, validation } = uninterrupted.timing;
  console.log(`run of 4 steps: ${seconds.toFixed(1)} s; samples ${sampleSeconds.toFixed(2)} s for 3 validations × 2 images × ${SAMPLE_STEPS} steps (${(sampleSeconds / 3).toFixed(2)} s per validation; ${((100 * sampleSeconds) / seconds).toFixed(0)} % of the run); validation in all ${validation.toFixed(2)} s`);

  // The last step's sample is what the studio's AFA recipe draws with the run's resulting aggregators.
  const image = samples.at(-1)!.images[1]!;
  const studio = await studioGeneration(loadAggregatorSet(uninterrupted.aggregatorsDir), 'studio', image.prompt, image.seed);
  const difference = maxDifference(decodePng(readFileSync(image.file)).data, studio);
  console.log(`the last sample vs the studio's generation with the trained aggregators: ${difference}/255 at most`);
  assert.ok(difference <= 1, `the sample differs from the studio's generation by up to ${difference}/255`);
  // The aggregators changed between step 0 and step 4, and so did the pictures.
  assert.notDeepEqual(readFileSync(samples[0]!.images[0]!.file), readFileSync(samples[2]!.images[0]!.file));
});

test('another run with the same seed, paused while drawing its samples and resumed, writes the same sample files', async () => {
  const controller = new AbortController();
  // Aborted at step 2's step event: the validation of step 2 computes its loss, then the sampler sees
  // the pause before its first image; the run checkpoints step 2 and stops.
  await assert.rejects(
    runAfaTrainingJob(job('resumed', { signal: controller.signal, onEvent: (event) => event.kind === 'step' && event.step === 2 && controller.abort() })),
    (error) => isCancelled(error),
  );
  assert.deepEqual(listSamples(join(scratch, 'resumed')).map((s) => s.step), [0], 'no samples of step 2 yet');
  assert.deepEqual(readdirSync(samplesDir(join(scratch, 'resumed'))).filter((name) => name.startsWith('.tmp-')), [], 'no half-written samples');
  const resumed = await runAfaTrainingJob(job('resumed', { settings: undefined }));
  assert.deepEqual(resumed.validation, uninterrupted.validation, 'the resumed run validated step 2 first');
  assert.deepEqual(resumed.train, uninterrupted.train);
  const expected = sampleFiles('full');
  const actual = sampleFiles('resumed');
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, bytes] of expected) assert.ok(actual.get(name)!.equals(bytes), `${name} differs`);
});
