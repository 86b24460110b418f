import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { a1111ParametersFor, importedFromA1111, parseA1111Parameters } from '../../app/images/a1111-parameters.ts';
import type { GenerationSettings } from '../../app/images/generation-settings.ts';
import { readImageSettings, studioTextChunks } from '../../app/images/metadata.ts';
import { encodePng, readPngText, readPngTextChunks } from '../../app/images/png.ts';
import {
  A1111_PARAMETERS,
  FIXTURE,
  a1111Png,
  comfyUiPng,
  comfyUiWorkflowOnlyPng,
  invokeAiDreamPng,
  invokeAiLegacyPng,
  invokeAiPng,
  testImage,
} from './foreign-fixtures.ts';

const single: GenerationSettings = {
  prompt: 'a red fox in the snow, (detailed:1.1)',
  negativePrompt: 'blurry',
  seed: 2 ** 53 - 1,
  steps: 25,
  guidance: 7.5,
  sampler: 'dpmpp-2m-karras',
  width: 512,
  height: 512,
  batchIndex: 0,
  recipe: {
    recipeId: null,
    name: null,
    method: 'single',
    members: [{ modelId: 'ab'.repeat(32), shortHash: 'abababab12', name: 'sd15-base' }],
    aggregatorId: null,
  },
};

const ensemble: GenerationSettings = {
  ...single,
  prompt: 'portrait of an astronaut\nsecond line: with a colon, and a comma',
  negativePrompt: 'lowres\nwatermark',
  sampler: 'euler-a',
  batchIndex: 2,
  extra: { eta: 0, clipSkip: 1 },
  recipe: {
    recipeId: 'rcp_1',
    name: 'dreamy trio',
    method: 'afa',
    members: [
      { modelId: '11'.repeat(32), shortHash: '1111111111', name: 'model-a' },
      { modelId: '22'.repeat(32), shortHash: '2222222222', name: 'model-b' },
      { modelId: '33'.repeat(32), shortHash: '3333333333', name: 'model-c' },
    ],
    aggregatorId: 'agg_01',
    document: { version: 1, experts: ['model-a', 'model-b', 'model-c'], sabw: { heads: 8 } },
  },
};

describe('AUTOMATIC1111 parameters', () => {
  it('writes the infotext layout exactly: prompt, negative line, comma-separated params', () => {
    assert.equal(
      a1111ParametersFor(single),
      'a red fox in the snow, (detailed:1.1)\nNegative prompt: blurry\n' +
        'Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 9007199254740991, Size: 512x512, Model hash: abababab12, Model: sd15-base',
    );
  });

  it('leaves the negative line out when it is empty, and names samplers the way A1111 does', () => {
    const text = a1111ParametersFor({ ...single, negativePrompt: '', sampler: 'euler-a', guidance: 7 });
    assert.equal(text.split('\n').length, 2);
    assert.match(text, /Sampler: Euler a, CFG scale: 7, /);
  });

  it('quotes values with commas, colons or newlines, and parses them back', () => {
    const text = a1111ParametersFor(ensemble, 'AFA Studio 0.1.0');
    assert.match(text, /AFA models: "model-a \[1111111111\], model-b \[2222222222\], model-c \[3333333333\]"/);
    const parsed = parseA1111Parameters(text);
    assert.equal(parsed.prompt, ensemble.prompt);
    assert.equal(parsed.negativePrompt, ensemble.negativePrompt);
    assert.equal(parsed.params.get('AFA method'), 'afa');
    assert.equal(parsed.params.get('AFA models'), 'model-a [1111111111], model-b [2222222222], model-c [3333333333]');
    assert.equal(parsed.params.get('Model'), 'dreamy trio');
    assert.equal(parsed.params.get('Batch pos'), '2');
    assert.equal(parsed.params.get('Version'), 'AFA Studio 0.1.0');
  });

  it('treats a last line with fewer than three key: value pairs as prompt text', () => {
    const parsed = parseA1111Parameters('a castle\nstyle: baroque');
    assert.equal(parsed.prompt, 'a castle\nstyle: baroque');
    assert.equal(parsed.params.size, 0);
  });

  it('reads the A1111 1.9+ split sampler/schedule and the older combined name to the same id', () => {
    const split = importedFromA1111(A1111_PARAMETERS);
    assert.equal(split.sampler, 'dpmpp-2m-karras');
    assert.equal(split.samplerLabel, 'DPM++ 2M');
    const combined = importedFromA1111('cat\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1, Size: 64x64');
    assert.equal(combined.sampler, 'dpmpp-2m-karras');
    const unknown = importedFromA1111('cat\nSteps: 20, Sampler: Restart, CFG scale: 7, Seed: 1, Size: 64x64');
    assert.equal(unknown.sampler, 'Restart');
  });
});

describe('our metadata', () => {
  for (const [name, settings] of [['a single model', single], ['an AFA ensemble', ensemble]] as const) {
    it(`round-trips every setting of ${name} through a PNG`, () => {
      const timings = { totalMs: 12_345, stepMs: [480, 470.5], phases: { decode: 300 } };
      const chunks = studioTextChunks({ settings, timings, generationId: 'gen_X', createdAt: 1_700_000_000_000, appVersion: '0.1.0' });
      const bytes = encodePng(testImage(), chunks);
      const kinds = readPngTextChunks(bytes).map((chunk) => [chunk.keyword, chunk.kind, chunk.compressed ?? false]);
      assert.deepEqual(kinds, [
        ['parameters', 'tEXt', false],
        ['afa-studio', 'iTXt', true],
      ]);
      const read = readImageSettings(bytes);
      assert.equal(read?.source, 'afa-studio');
      assert.deepEqual(read?.settings, settings);
      assert.equal(read?.seed, settings.seed);
      // The parameters chunk alone (what other tools see) carries the basics too.
      const viaA1111 = importedFromA1111(readPngText(bytes).get('parameters')!);
      assert.equal(viaA1111.prompt, settings.prompt);
      assert.equal(viaA1111.negativePrompt, settings.negativePrompt);
      assert.equal(viaA1111.seed, settings.seed);
      assert.equal(viaA1111.steps, settings.steps);
      assert.equal(viaA1111.guidance, settings.guidance);
      assert.equal(viaA1111.sampler, settings.sampler);
    });
  }

  it('writes a non-Latin prompt into an iTXt parameters chunk', () => {
    const bytes = encodePng(testImage(), studioTextChunks({ settings: { ...single, prompt: '富士山の夕焼け' } }));
    const parameters = readPngTextChunks(bytes).find((chunk) => chunk.keyword === 'parameters');
    assert.equal(parameters?.kind, 'iTXt');
    assert.equal(readImageSettings(bytes)?.prompt, '富士山の夕焼け');
  });

  it('refuses settings that could not reproduce the image', () => {
    assert.throws(() => studioTextChunks({ settings: { ...single, seed: 2 ** 53 } }), /seed/);
    assert.throws(() => studioTextChunks({ settings: { ...single, steps: 0 } }), /steps/);
    assert.throws(() => studioTextChunks({ settings: { ...single, recipe: { ...single.recipe, members: [] } } }), /members/);
  });

  it('falls back to the A1111 chunk when our JSON chunk is damaged, and returns undefined with no metadata', () => {
    const bytes = encodePng(testImage(), [
      { keyword: 'parameters', text: a1111ParametersFor(single) },
      { keyword: 'afa-studio', kind: 'iTXt', text: '{"schema": "afa-studio/generation", truncated' },
    ]);
    assert.equal(readImageSettings(bytes)?.source, 'automatic1111');
    assert.equal(readImageSettings(encodePng(testImage())), undefined);
  });
});

describe("other tools' metadata", () => {
  const expected = {
    prompt: FIXTURE.prompt,
    negativePrompt: FIXTURE.negativePrompt,
    seed: FIXTURE.seed,
    steps: FIXTURE.steps,
    guidance: FIXTURE.guidance,
    width: FIXTURE.width,
    height: FIXTURE.height,
    modelName: FIXTURE.modelName,
  };
  const pick = (settings: Record<string, unknown> | undefined) =>
    Object.fromEntries(Object.keys(expected).map((key) => [key, settings?.[key]]));

  it('AUTOMATIC1111 parameters', () => {
    const read = readImageSettings(a1111Png());
    assert.equal(read?.source, 'automatic1111');
    assert.deepEqual(pick(read as never), expected);
    assert.equal(read?.modelHash, FIXTURE.modelHash);
    assert.equal(read?.other['Lora hashes'], 'detail: 0123abcd, style: 4567ef01');
    assert.equal(read?.other.Version, 'v1.10.1');
  });

  it('InvokeAI 3+/4 invokeai_metadata', () => {
    const read = readImageSettings(invokeAiPng());
    assert.equal(read?.source, 'invokeai');
    assert.deepEqual(pick(read as never), expected);
    assert.equal(read?.sampler, 'dpmpp-2m-karras');
    assert.equal(read?.samplerLabel, 'dpmpp_2m_k');
  });

  it('InvokeAI 2.x sd-metadata, with the negative prompt in brackets', () => {
    const read = readImageSettings(invokeAiLegacyPng());
    assert.equal(read?.source, 'invokeai');
    assert.deepEqual(pick(read as never), expected);
    assert.equal(read?.sampler, 'euler-a');
  });

  it('InvokeAI Dream command line', () => {
    const read = readImageSettings(invokeAiDreamPng());
    assert.equal(read?.source, 'invokeai');
    assert.deepEqual(pick(read as never), { ...expected, modelName: undefined });
    assert.equal(read?.sampler, 'lms');
  });

  it('ComfyUI prompt graph, following links through a LoRA loader', () => {
    const read = readImageSettings(comfyUiPng());
    assert.equal(read?.source, 'comfyui');
    assert.deepEqual(pick(read as never), expected);
    assert.equal(read?.sampler, 'dpmpp-2m-karras');
    assert.equal(read?.samplerLabel, 'dpmpp_2m');
    assert.equal(read?.scheduler, 'karras');
  });

  it('ComfyUI workflow graph alone (widget values and links)', () => {
    const read = readImageSettings(comfyUiWorkflowOnlyPng());
    assert.equal(read?.source, 'comfyui');
    assert.deepEqual(pick(read as never), expected);
    assert.equal(read?.sampler, 'euler-a');
  });
});
