// The reproduction's report: docs/reproduction.md with its tables, image grids and contribution maps as
// PNGs in docs/reproduction/, and a discussion written from the numbers (every claim in it is a
// comparison computed here, with its interval; nothing is worded in advance of the results).
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { encodePng } from '../images/png.ts';
import type { RgbImage } from '../pipeline/preview.ts';
import { bootstrapDifference, bootstrapMean, excludesZero, type Estimate } from './bootstrap.ts';
import { ATTRIBUTES, BATCH_IMAGES, GRID_PROMPTS, IMAGE_SIZE, MBW_SETTING, TIMESTEP_RANGES, type Attribute, type Contributions, type ReproductionResult } from './reproduction.ts';
import { captionOf, renderScene, WARM_COLOURS, type Scene } from './scenes.ts';

export const REPORT_FILE = 'reproduction.md';
export const IMAGE_DIR = 'reproduction';

/** Colours of the experts in contribution maps: expert k's weight tints the cell with colour k. */
export const EXPERT_COLOURS: readonly (readonly [number, number, number])[] = [
  [255, 0, 0],
  [0, 200, 0],
  [0, 80, 255],
  [255, 200, 0],
  [255, 0, 255],
  [0, 220, 220],
];
const COLOUR_NAMES = ['red', 'green', 'blue', 'yellow', 'magenta', 'cyan'];

const OBJECT_ATTRIBUTES: readonly Attribute[] = ['shape', 'colour', 'size', 'position', 'background'];

// ---------------------------------------------------------------------------------------------------
// Numbers.

function meanOf(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function perImageMeanError(table: readonly (readonly number[])[]): number[] {
  const images = table[0]!.length;
  return Array.from({ length: images }, (_, i) => meanOf(table.map((row) => row[i]!)));
}

function meanAttributeAccuracy(judged: Readonly<Record<Attribute, readonly number[]>>): number[] {
  return judged.all.map((_, i) => meanOf(OBJECT_ATTRIBUTES.map((a) => judged[a][i]!)));
}

const mse = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '–');
const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(0)} %` : '–');
const signedPct = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(1)}`;
const signedMse = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(4)}`;

function withInterval(e: Estimate, format: (v: number) => string): string {
  return `${format(e.mean)} (${format(e.low)}–${format(e.high)})`;
}

function pctInterval(e: Estimate): string {
  return `${(100 * e.mean).toFixed(0)} (${(100 * e.low).toFixed(0)}–${(100 * e.high).toFixed(0)})`;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function tableHead(cells: readonly string[], align?: readonly ('l' | 'r')[]): string[] {
  return [row(cells), row(cells.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'l' ? '---' : '---:')))];
}

// ---------------------------------------------------------------------------------------------------
// Images.

function gridPng(columns: readonly (readonly RgbImage[])[], gap = 2): Uint8Array {
  const rowsCount = Math.max(...columns.map((c) => c.length));
  const cell = IMAGE_SIZE;
  const width = columns.length * cell + (columns.length + 1) * gap;
  const height = rowsCount * cell + (rowsCount + 1) * gap;
  const data = new Uint8Array(width * height * 3).fill(255);
  columns.forEach((column, c) => {
    column.forEach((image, r) => {
      const x0 = gap + c * (cell + gap);
      const y0 = gap + r * (cell + gap);
      for (let y = 0; y < Math.min(cell, image.height); y++) {
        data.set(image.rgb.subarray(y * image.width * 3, (y * image.width + Math.min(cell, image.width)) * 3), ((y0 + y) * width + x0) * 3);
      }
    });
  });
  return encodePng({ width, height, channels: 3, data });
}

/** One contribution map [K, h, w] as an RGB tile `size`² (nearest upscaling): Σ_k w_k · colour_k. */
function mapTile(map: Float64Array, K: number, h: number, w: number, size: number): RgbImage {
  const rgb = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const cell = Math.floor((y * h) / size) * w + Math.floor((x * w) / size);
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let k = 0; k < K; k++) v += map[k * h * w + cell]! * EXPERT_COLOURS[k % EXPERT_COLOURS.length]![c]!;
        rgb[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { width: size, height: size, rgb };
}

function contributionPng(contributions: Contributions, K: number): Uint8Array {
  const size = IMAGE_SIZE;
  const columns = TIMESTEP_RANGES.map((_, r) => contributions.points.map((point) => mapTile(point.maps[r]!, K, point.height, point.width, size)));
  return gridPng(columns);
}

function targetImage(scene: Scene): RgbImage {
  return { width: IMAGE_SIZE, height: IMAGE_SIZE, rgb: renderScene(scene, IMAGE_SIZE) };
}

// ---------------------------------------------------------------------------------------------------
// Contribution summaries.

/** Mean share of each expert over the prompts that pass `filter` (NaN when none do). */
function sharesWhere(shares: readonly (readonly number[] | null)[], scenes: readonly Scene[], filter: (scene: Scene) => boolean, K: number): { shares: number[]; n: number } {
  const picked = shares.filter((s, i): s is readonly number[] => s !== null && s.every(Number.isFinite) && filter(scenes[i]!));
  return { shares: Array.from({ length: K }, (_, k) => (picked.length ? meanOf(picked.map((s) => s[k]!)) : NaN)), n: picked.length };
}

interface AttributeGroup {
  readonly attribute: string;
  readonly values: readonly { readonly label: string; readonly test: (scene: Scene) => boolean }[];
}

const TEXTURED = new Set(['horizontal-stripes', 'vertical-stripes', 'checks']);

const ATTRIBUTE_GROUPS: readonly AttributeGroup[] = [
  {
    attribute: 'background',
    values: [
      { label: 'plain', test: (s) => s.background.pattern === 'plain' },
      { label: 'striped or checked', test: (s) => TEXTURED.has(s.background.pattern) },
      { label: 'gradient', test: (s) => s.background.pattern === 'gradient' },
    ],
  },
  {
    attribute: 'object size',
    values: [
      { label: 'all small', test: (s) => s.objects.every((o) => o.size === 'small') },
      { label: 'some large', test: (s) => s.objects.some((o) => o.size === 'large') },
    ],
  },
  {
    attribute: 'warm colour (red, orange, yellow)',
    values: [
      { label: 'in the scene', test: (s) => WARM_COLOURS.includes(s.background.colour) || s.objects.some((o) => WARM_COLOURS.includes(o.colour)) },
      { label: 'not in the scene', test: (s) => !(WARM_COLOURS.includes(s.background.colour) || s.objects.some((o) => WARM_COLOURS.includes(o.colour))) },
    ],
  },
  {
    attribute: 'objects',
    values: [
      { label: 'one', test: (s) => s.objects.length === 1 },
      { label: 'two', test: (s) => s.objects.length === 2 },
    ],
  },
];

// ---------------------------------------------------------------------------------------------------
// The report.

export interface ReportInput {
  readonly result: ReproductionResult;
  /** The exact command, recorded in the report. */
  readonly command: string;
  /** Cores of the machine (the time it took depends on them). */
  readonly cores: number;
}

export function writeReport(outDir: string, input: ReportInput): string {
  const { result } = input;
  const imageDir = join(outDir, IMAGE_DIR);
  mkdirSync(imageDir, { recursive: true });
  const written = new Set<string>();
  const writePng = (name: string, png: Uint8Array) => {
    writeFileAtomic(join(imageDir, name), png);
    written.add(name);
  };
  const K = result.experts.length;
  const seed = result.seed;
  const boot = (values: readonly number[]) => bootstrapMean(values, { seed });
  const paired = (a: readonly number[], b: readonly number[]) => bootstrapDifference(a, b, { seed });
  const methods = result.methods;
  const label = (key: string) => methods.find((m) => m.key === key)!.label;
  const mainIndex = result.stepCounts.indexOf(result.mainSteps);
  const fewestIndex = 0;
  const meanErrors = Object.fromEntries(methods.map((m) => [m.key, perImageMeanError(result.errors[m.key]!)]));
  const lines: string[] = [];
  const out = (...text: string[]) => lines.push(...text);

  out('# The AFA paper at toy scale', '');
  out(
    `Written by \`${input.command}\` (app/demo/reproduction.ts, app/demo/reproduction-report.ts) from the studio home's AFA recipe **${result.recipeName}**. Every number below comes from that run; rerunning the command on the same machine rewrites the same tables (seeds fixed: scenes, noise, image seeds and the bootstrap).${result.quick ? ' **This is a `--quick` run: a check that every part runs, not a measurement.**' : ''}`,
    '',
  );

  // Setup.
  out('## Setup', '');
  out(`- Experts (in the aggregators' order): ${result.experts.map((e, k) => `${k + 1}. ${e.name} (${e.shortHash})`).join('; ')}.`);
  out(`- AFA aggregators: set \`${result.aggregatorId}\`, hidden ${result.aggregatorSize.hiddenSize}, ${result.aggregatorSize.numAttentionHeads} heads, ${result.aggregatorSize.numLayers} transformer layers.`);
  out(`- Prompts: the captions of the first ${result.promptScenes.length} scenes of the held-out test split (\`sceneAt(${seed}, i, 'test')\`: shape–colour and shape–background combinations no model was trained on). Image i uses seed ${seed} + i for every method.`);
  out(`- Sampling: DDIM (η = 0), guidance ${result.guidance} (the recipe's), ${IMAGE_SIZE}×${IMAGE_SIZE}, empty negative prompt; ${result.stepCounts.join(', ')} steps. Images are judged by the model-free scene checker (app/demo/scene-checker.ts): shape, colour, size and position of every object, the background's pattern and colour, and *all* (every one of those and the object count right).`);
  out(`- ε-MSE: ${result.errorScenes.length} held-out scenes (the first of the same split), VAE-encoded (the encoder's mean × the scaling factor), noised at t = ${result.timesteps.join(', ')} with noise seeded per image and timestep; each method predicts ε from the caption (no guidance) and the table gives mean((ε̂ − ε)²).`);
  out(`- Intervals: 95 % percentile bootstrap over prompts (or held-out images), 2000 resamples, seed ${seed}; differences are paired (the same resampled prompts for both methods).`);
  out(`- Sampler batches: ${BATCH_IMAGES} images per batch through the same denoisers as a generation (app/demo/batch-sampling.ts).`, '');

  out('### Methods', '');
  out(...tableHead(['Method', 'What runs'], ['l', 'l']));
  for (const m of methods) out(row([m.label, m.description]));
  out('', `MBW and MagicFusion take two models; they run on the first two experts. MBW's block weights: ${MBW_SETTING.blocks.map((a) => a.toFixed(2)).join(', ')} for IN00…IN11, M00, OUT00…OUT11, base ${MBW_SETTING.base}.`, '');

  // ε-MSE.
  out('## ε-prediction error on held-out images', '');
  out('Mean squared error of the predicted noise (lower is better), mean and 95 % interval.', '');
  const errorEstimates = methods.map((m) => ({ key: m.key, perT: result.errors[m.key]!.map((values) => boot(values)), mean: boot(meanErrors[m.key]!) }));
  const bestPerT = result.timesteps.map((_, ti) => Math.min(...errorEstimates.map((e) => e.perT[ti]!.mean)));
  const bestMean = Math.min(...errorEstimates.map((e) => e.mean.mean));
  out(...tableHead(['Method', ...result.timesteps.map((t) => `t = ${t}`), 'mean over t']));
  for (const e of errorEstimates) {
    const cell = (est: Estimate, best: number) => (est.mean === best ? `**${withInterval(est, mse)}**` : withInterval(est, mse));
    out(row([label(e.key), ...e.perT.map((est, ti) => cell(est, bestPerT[ti]!)), cell(e.mean, bestMean)]));
  }
  out('', 'Bold: the lowest of the column.', '');

  // Caption accuracy at the main step count.
  out(`## Caption accuracy of generated images (${result.mainSteps} steps)`, '');
  out(`Share of the ${result.promptScenes.length} held-out prompts whose image the checker finds right, in % (95 % interval).`, '');
  const accuracyAt = (key: string, stepIndex: number) => result.accuracy[key]![stepIndex]!;
  // One row per method (the best of each column in bold), then the VAE's own round trip of the scenes.
  const accuracyTable = (judgedOf: (key: string) => Readonly<Record<Attribute, readonly number[]>>, roundTrip: Readonly<Record<Attribute, readonly number[]>>) => {
    out(...tableHead(['Method', ...ATTRIBUTES.map((a) => (a === 'all' ? '**all**' : a))]));
    const best = Object.fromEntries(ATTRIBUTES.map((a) => [a, Math.max(...methods.map((m) => meanOf(judgedOf(m.key)[a] as number[])))]));
    for (const m of methods) {
      const judged = judgedOf(m.key);
      out(row([m.label, ...ATTRIBUTES.map((a) => {
        const est = boot(judged[a] as number[]);
        return est.mean === best[a] ? `**${pctInterval(est)}**` : pctInterval(est);
      })]));
    }
    out(row(['*VAE round trip (the ceiling)*', ...ATTRIBUTES.map((a) => `*${pctInterval(boot(roundTrip[a] as number[]))}*`)]));
  };
  accuracyTable((key) => accuracyAt(key, mainIndex), result.vaeRoundTrip.heldOut);
  out(
    '',
    'Bold: the highest of the column. *VAE round trip*: the scenes themselves encoded by the VAE and decoded again (no denoiser); every method draws through this decoder, so this is as well as any of them can do.',
    '',
  );
  out(`On ${result.seenScenes.length} captions of the training split instead (new scenes, but shape–colour and shape–background combinations the models were trained on; \`sceneAt(${result.seed}, i, 'train')\`, the same seeds), ${result.mainSteps} steps:`, '');
  accuracyTable((key) => result.seenAccuracy[key]!, result.vaeRoundTrip.seen);
  out('');

  // Steps sweep.
  out('## Accuracy against the number of sampler steps (the paper\'s Fig. 4)', '');
  out('All attributes right, in % (95 % interval):', '');
  out(...tableHead(['Method', ...result.stepCounts.map((s) => `${s} steps`)]));
  const bestAll = result.stepCounts.map((_, si) => Math.max(...methods.map((m) => meanOf(accuracyAt(m.key, si).all as number[]))));
  for (const m of methods) {
    out(row([m.label, ...result.stepCounts.map((_, si) => {
      const est = boot(accuracyAt(m.key, si).all as number[]);
      return est.mean === bestAll[si] ? `**${pctInterval(est)}**` : pctInterval(est);
    })]));
  }
  out('', 'Mean of the five attributes (shape, colour, size, position, background), in % (95 % interval):', '');
  out(...tableHead(['Method', ...result.stepCounts.map((s) => `${s} steps`)]));
  const bestMeanAttr = result.stepCounts.map((_, si) => Math.max(...methods.map((m) => meanOf(meanAttributeAccuracy(accuracyAt(m.key, si))))));
  for (const m of methods) {
    out(row([m.label, ...result.stepCounts.map((_, si) => {
      const est = boot(meanAttributeAccuracy(accuracyAt(m.key, si)));
      return est.mean === bestMeanAttr[si] ? `**${pctInterval(est)}**` : pctInterval(est);
    })]));
  }
  out('');

  // AFA against each method.
  out('## AFA against each method (paired differences)', '');
  out(`AFA minus the method on the same prompts, with 95 % intervals; ✓ AFA better, ✗ AFA worse, · the interval includes 0. ε-MSE: lower is better, so a negative difference favours AFA. Accuracy: percentage points of *all* right.`, '');
  out(...tableHead(['Method', 'ε-MSE (mean over t)', ...result.stepCounts.map((s) => `all right, ${s} steps`)]));
  const comparisons = methods.filter((m) => m.key !== 'afa').map((m) => {
    const error = paired(meanErrors.afa!, meanErrors[m.key]!);
    const acc = result.stepCounts.map((_, si) => paired(accuracyAt('afa', si).all as number[], accuracyAt(m.key, si).all as number[]));
    return { key: m.key, error, acc };
  });
  const mark = (e: Estimate, lowerIsBetter: boolean) => (!excludesZero(e) ? '·' : (e.mean < 0) === lowerIsBetter ? '✓' : '✗');
  for (const c of comparisons) {
    out(row([label(c.key), `${signedMse(c.error.mean)} (${signedMse(c.error.low)}…${signedMse(c.error.high)}) ${mark(c.error, true)}`, ...c.acc.map((e) => `${signedPct(e.mean)} (${signedPct(e.low)}…${signedPct(e.high)}) ${mark(e, false)}`)]));
  }
  out('');

  // Ablation.
  const ab = result.ablation;
  out('## Ablation: aggregators without spatial awareness', '');
  out(
    `*AFA (no spatial)* has the recipe's aggregator architecture with \`spatial: false\` (app/ensemble/sabw-aggregator.ts): conv_out's logits are averaged over the feature map before the softmax, so each aggregator gives one weight per expert (still depending on the features, timestep and prompt) instead of one per pixel. It was trained with the studio's training job (training run \`${ab.runId}\`, aggregator set \`${ab.aggregatorId}\`) using ${ab.source}.${ab.finalLoss !== null ? ` Its final smoothed training loss: ${ab.finalLoss.toFixed(4)}.` : ''}`,
    '',
  );
  const spatial = comparisons.find((c) => c.key === 'afa-no-spatial')!;
  out(`What spatial awareness buys (AFA − AFA (no spatial)): ε-MSE ${signedMse(spatial.error.mean)} (${signedMse(spatial.error.low)}…${signedMse(spatial.error.high)}); all-right accuracy ${result.stepCounts.map((s, si) => `${signedPct(spatial.acc[si]!.mean)} points at ${s} steps`).join(', ')}.`, '');

  // Contributions.
  out('## Which expert dominates where', '');
  const afa = result.contributions.afa;
  const noSpatial = result.contributions['afa-no-spatial'];
  const legend = result.experts.map((e, k) => `${COLOUR_NAMES[k % COLOUR_NAMES.length]} = ${e.name}`).join(', ');
  if (afa) {
    writePng('contributions-afa.png', contributionPng(afa, K));
    out(
      `AFA's mean expert weights at every aggregation point (rows: points 0–${afa.points.length - 1}, top to bottom; columns: ${TIMESTEP_RANGES.map((r) => r.label).join(', ')}), averaged over the ${result.promptScenes.length} prompts at ${result.mainSteps} steps (conditional half of the guided batch). Each cell's colour mixes the experts' colours by weight: ${legend}.`,
      '',
      '![AFA contribution maps](reproduction/contributions-afa.png)',
      '',
    );
    const shareText = (map: Float64Array) => {
      const plane = map.length / K;
      return Array.from({ length: K }, (_, k) => {
        let s = 0;
        for (let i = 0; i < plane; i++) s += map[k * plane + i]!;
        return (100 * s / plane).toFixed(0);
      }).join(' / ');
    };
    out(`Mean share of each expert (${result.experts.map((e) => e.name).join(' / ')}), in %, per point and timestep range:`, '');
    out(...tableHead(['Point', 'block', 'size', ...TIMESTEP_RANGES.map((r) => r.label)]));
    for (const point of afa.points) out(row([String(point.index), point.block, `${point.height}×${point.width}`, ...point.maps.map(shareText)]));
    out('');
    if (noSpatial) {
      writePng('contributions-afa-no-spatial.png', contributionPng(noSpatial, K));
      const overall = (c: Contributions, r: number) => {
        const sums = new Array<number>(K).fill(0);
        for (const point of c.points) {
          const plane = point.maps[r]!.length / K;
          for (let k = 0; k < K; k++) for (let i = 0; i < plane; i++) sums[k]! += point.maps[r]![k * plane + i]! / plane / c.points.length;
        }
        return sums.map((s) => (100 * s).toFixed(0)).join(' / ');
      };
      out(`The ablation's weights, for comparison (one colour per cell by construction): ![AFA (no spatial) contribution maps](reproduction/contributions-afa-no-spatial.png)`, '');
      out('Mean share over all points, in %:', '');
      out(...tableHead(['Aggregators', ...TIMESTEP_RANGES.map((r) => r.label)]));
      out(row(['AFA', ...TIMESTEP_RANGES.map((_, r) => overall(afa, r))]));
      out(row(['AFA (no spatial)', ...TIMESTEP_RANGES.map((_, r) => overall(noSpatial, r))]));
      out('');
    }
    out(`Each expert's share by caption attribute (AFA, full-resolution points, all ${result.mainSteps} steps, mean over prompts), in %:`, '');
    out(...tableHead(['Attribute', 'value', 'prompts', ...result.experts.map((e) => e.name)], ['l', 'l']));
    for (const group of ATTRIBUTE_GROUPS) {
      for (const value of group.values) {
        const { shares, n } = sharesWhere(afa.imageShares, result.promptScenes, value.test, K);
        out(row([group.attribute, value.label, String(n), ...shares.map((s) => (Number.isFinite(s) ? (100 * s).toFixed(1) : '–'))]));
      }
    }
    out('', 'And by region of the image (latent cells the caption\'s objects cover at least half of, and cells no object comes within a pixel of):', '');
    out(...tableHead(['Region', 'scenes', ...result.experts.map((e) => e.name)], ['l']));
    const regionRows: [string, readonly (readonly number[] | null)[], (s: Scene) => boolean][] = [
      ['object cells', afa.objectShares, () => true],
      ['background cells, plain background', afa.backgroundShares, (s) => s.background.pattern === 'plain'],
      ['background cells, striped or checked', afa.backgroundShares, (s) => TEXTURED.has(s.background.pattern)],
      ['background cells, gradient', afa.backgroundShares, (s) => s.background.pattern === 'gradient'],
    ];
    for (const [name, shares, test] of regionRows) {
      const { shares: mean, n } = sharesWhere(shares, result.promptScenes, test, K);
      out(row([name, String(n), ...mean.map((s) => (Number.isFinite(s) ? (100 * s).toFixed(1) : '–'))]));
    }
    out('');
  }

  // Grids.
  out('## Images', '');
  const gridCount = Math.min(GRID_PROMPTS, result.promptScenes.length);
  out(`The first ${gridCount} prompts (rows), at each step count. Columns: the scene the caption describes (rendered by the generator), then ${methods.map((m) => m.label).join(', ')}.`, '');
  result.promptScenes.slice(0, gridCount).forEach((scene, i) => out(`${i + 1}. ${captionOf(scene)}`));
  out('');
  result.stepCounts.forEach((steps, si) => {
    const name = `grid-${steps}-steps.png`;
    writePng(name, gridPng([result.promptScenes.slice(0, gridCount).map(targetImage), ...methods.map((m) => result.gridImages[m.key]![si]!)]));
    out(`**${steps} steps**`, '', `![${steps} steps](${IMAGE_DIR}/${name})`, '');
  });

  // Discussion.
  out('## Discussion', '', ...discussion(result, { errorEstimates, comparisons, meanErrors }), '');

  // Run.
  const t = result.timings;
  out('## This run', '');
  out(`- Command: \`${input.command}\`; ${result.promptScenes.length} prompts × ${methods.length} methods × ${result.stepCounts.length} step counts, ${result.errorScenes.length} held-out images × ${result.timesteps.length} timesteps for ε-MSE.`);
  out(`- Time on this machine (${input.cores} cores): ${(t.total / 60).toFixed(1)} min in all — ablation aggregators ${ab.trained ? `trained in ${(t.ablation / 60).toFixed(1)} min` : `found in the home (${t.ablation.toFixed(0)} s)`}, ε-MSE ${(t.errors / 60).toFixed(1)} min, generation ${(t.generation / 60).toFixed(1)} min (${methods.map((m) => `${m.label} ${t.perMethod[m.key]!.toFixed(0)} s`).join(', ')}).`);
  out(`- Left out: MBW and MagicFusion use only the first two experts (both methods take two models); the ε measure of MagicFusion uses its blend at guidance 1 with the phase of a 1000-step schedule at that timestep (so t = 900 is model A alone); samplers other than DDIM are not measured.`);
  out('');

  writeFileAtomic(join(outDir, REPORT_FILE), Buffer.from(lines.join('\n')));
  // Images of an earlier run that this one did not write (other step counts) would be stale.
  for (const name of readdirSync(imageDir)) if (name.endsWith('.png') && !written.has(name)) rmSync(join(imageDir, name), { force: true });
  if (!existsSync(join(outDir, REPORT_FILE))) throw new Error('the report was not written');
  return join(outDir, REPORT_FILE);
}

interface DiscussionData {
  readonly errorEstimates: readonly { readonly key: string; readonly perT: readonly Estimate[]; readonly mean: Estimate }[];
  readonly comparisons: readonly { readonly key: string; readonly error: Estimate; readonly acc: readonly Estimate[] }[];
  readonly meanErrors: Readonly<Record<string, number[]>>;
}

/**
 * Where the denoisers lose most of what the VAE keeps: per attribute, the best method's share of held-out
 * prompts right against the VAE round trip's, the largest shortfalls first, in words.
 */
export function ceilingShortfall(attributes: readonly { readonly attribute: string; readonly best: number; readonly ceiling: number }[]): string {
  const gaps = [...attributes].sort((a, b) => b.ceiling - b.best - (a.ceiling - a.best));
  const words = (g: (typeof gaps)[number]) => `${g.attribute} (the best method ${pct(g.best)} against the round trip's ${pct(g.ceiling)})`;
  const smallest = gaps.at(-1)!;
  return `The denoisers fall furthest below it on ${words(gaps[0]!)}, then ${words(gaps[1]!)}; least on ${words(smallest)}.`;
}

/**
 * How AFA's margin over the best single expert (`differences`, AFA − expert, one per step count, fewest
 * steps first) moves as the steps are cut, and at which step counts it is resolved, in words.
 */
export function stepTrend(stepCounts: readonly number[], differences: readonly Estimate[]): string {
  const first = differences[0]!.mean;
  const last = differences.at(-1)!.mean;
  const ends = `${signedPct(first)} points at ${stepCounts[0]} steps, ${signedPct(last)} at ${stepCounts.at(-1)}`;
  const direction =
    first < last ? `AFA fares worse against the best expert with fewer steps (${ends})` : first > last ? `AFA fares better against the best expert with fewer steps (${ends})` : `AFA's margin over the best expert is the same at the fewest and the most steps (${ends})`;
  const resolvedAt = stepCounts.filter((_, i) => excludesZero(differences[i]!));
  const resolved = resolvedAt.length === 0 ? 'at no step count' : resolvedAt.length === stepCounts.length ? 'at every step count' : `only at ${resolvedAt.join(', ')} steps`;
  return `${direction}; the difference is resolved at 95 % ${resolved}.`;
}

/** Sentences computed from the results: which method leads each measure and whether AFA's differences are resolved. */
export function discussion(result: ReproductionResult, data: DiscussionData): string[] {
  const seed = result.seed;
  const label = (key: string) => result.methods.find((m) => m.key === key)!.label;
  const paragraphs: string[] = [];
  const experts = result.methods.filter((m) => m.key.startsWith('expert-')).map((m) => m.key);
  const resolved = (e: Estimate) => (excludesZero(e) ? 'resolved at 95 %' : 'within the interval of no difference');
  const ranked = [...data.errorEstimates].sort((a, b) => a.mean.mean - b.mean.mean);
  const afaRank = ranked.findIndex((e) => e.key === 'afa') + 1;
  const bestError = ranked[0]!;
  if (bestError.key === 'afa') {
    const runnerUp = ranked[1]!;
    const d = bootstrapDifference(data.meanErrors.afa!, data.meanErrors[runnerUp.key]!, { seed });
    paragraphs.push(`**ε-MSE.** AFA has the lowest ε-prediction error averaged over the timesteps (${mse(bestError.mean.mean)}); the runner-up is ${label(runnerUp.key)} (${mse(runnerUp.mean.mean)}), a difference of ${signedMse(d.mean)} (${signedMse(d.low)}…${signedMse(d.high)}), ${resolved(d)}.`);
  } else {
    const d = bootstrapDifference(data.meanErrors.afa!, data.meanErrors[bestError.key]!, { seed });
    paragraphs.push(`**ε-MSE.** AFA does not have the lowest ε-prediction error here: it ranks ${afaRank} of ${ranked.length}; ${label(bestError.key)} is lowest (${mse(bestError.mean.mean)} against AFA's ${mse(data.errorEstimates.find((e) => e.key === 'afa')!.mean.mean)}; AFA − it = ${signedMse(d.mean)} (${signedMse(d.low)}…${signedMse(d.high)}), ${resolved(d)}).`);
  }
  const afaWinsAt = result.timesteps.filter((_, ti) => {
    const values = data.errorEstimates.map((e) => e.perT[ti]!.mean);
    return data.errorEstimates.find((e) => e.key === 'afa')!.perT[ti]!.mean === Math.min(...values);
  });
  const bestExpertError = experts.reduce((best, key) => (meanOf(data.meanErrors[key]!) < meanOf(data.meanErrors[best]!) ? key : best), experts[0]!);
  const vsExpert = data.comparisons.find((c) => c.key === bestExpertError)!;
  paragraphs.push(
    `AFA is lowest at ${afaWinsAt.length === 0 ? 'none of the timesteps' : `t = ${afaWinsAt.join(', ')}`} of ${result.timesteps.join(', ')}. Against the best single expert by this measure (${label(bestExpertError)}) AFA's difference is ${signedMse(vsExpert.error.mean)} (${signedMse(vsExpert.error.low)}…${signedMse(vsExpert.error.high)}), ${resolved(vsExpert.error)}.`,
  );

  const mainIndex = result.stepCounts.indexOf(result.mainSteps);
  const allAt = (key: string, si: number) => result.accuracy[key]![si]!.all as number[];
  const rankedAcc = result.methods.map((m) => ({ key: m.key, mean: meanOf(allAt(m.key, mainIndex)) })).sort((a, b) => b.mean - a.mean);
  const bestAcc = rankedAcc[0]!;
  const afaAcc = rankedAcc.find((e) => e.key === 'afa')!;
  if (bestAcc.key === 'afa' || bestAcc.mean === afaAcc.mean) {
    const runnerUp = rankedAcc.find((e) => e.key !== 'afa')!;
    const d = bootstrapDifference(allAt('afa', mainIndex), allAt(runnerUp.key, mainIndex), { seed });
    paragraphs.push(`**Caption accuracy (${result.mainSteps} steps).** AFA gets ${pct(afaAcc.mean)} of the held-out prompts entirely right, ${bestAcc.key === 'afa' && bestAcc.mean > runnerUp.mean ? 'the most of any method' : 'tied for the most'}; next is ${label(runnerUp.key)} at ${pct(runnerUp.mean)} (AFA − it: ${signedPct(d.mean)} points, ${signedPct(d.low)}…${signedPct(d.high)}, ${resolved(d)}).`);
  } else {
    const d = bootstrapDifference(allAt('afa', mainIndex), allAt(bestAcc.key, mainIndex), { seed });
    paragraphs.push(`**Caption accuracy (${result.mainSteps} steps).** AFA does not lead: ${label(bestAcc.key)} gets ${pct(bestAcc.mean)} of the held-out prompts entirely right against AFA's ${pct(afaAcc.mean)} (AFA rank ${rankedAcc.findIndex((e) => e.key === 'afa') + 1} of ${rankedAcc.length}; AFA − it: ${signedPct(d.mean)} points, ${signedPct(d.low)}…${signedPct(d.high)}, ${resolved(d)}).`);
  }
  const perAttribute = OBJECT_ATTRIBUTES.map((attribute) => {
    const values = result.methods.map((m) => ({ key: m.key, mean: meanOf(result.accuracy[m.key]![mainIndex]![attribute] as number[]) })).sort((a, b) => b.mean - a.mean);
    return { attribute, leader: values[0]!, afa: values.find((v) => v.key === 'afa')!, rank: values.findIndex((v) => v.key === 'afa') + 1 };
  });
  const leads = perAttribute.filter((p) => p.afa.mean === p.leader.mean).map((p) => p.attribute);
  const trails = perAttribute.filter((p) => p.afa.mean < p.leader.mean).map((p) => `${p.attribute} (${pct(p.afa.mean)} against ${label(p.leader.key)}'s ${pct(p.leader.mean)})`);
  paragraphs.push(`By attribute, AFA ${leads.length ? `leads or ties on ${leads.join(', ')}` : 'leads on none'}${trails.length ? ` and trails on ${trails.join('; ')}` : ''}.`);
  const shortfall = ceilingShortfall(
    OBJECT_ATTRIBUTES.map((attribute) => ({ attribute, best: perAttribute.find((p) => p.attribute === attribute)!.leader.mean, ceiling: meanOf(result.vaeRoundTrip.heldOut[attribute] as number[]) })),
  );
  const seenAll = (key: string) => meanOf(result.seenAccuracy[key]!.all as number[]);
  const seenRanked = result.methods.map((m) => seenAll(m.key)).sort((a, b) => b - a);
  const ceiling = `the scenes themselves, encoded and decoded, come out entirely right for ${pct(meanOf(result.vaeRoundTrip.heldOut.all as number[]))} of the held-out prompts and ${pct(meanOf(result.vaeRoundTrip.seen.all as number[]))} of the training-split ones`;
  if (seenAll('afa') === 0 && afaAcc.mean === 0) {
    paragraphs.push(
      `Against what the VAE allows: ${ceiling}. ${shortfall} AFA gets no prompt entirely right on training-split captions either (the best method: ${pct(seenRanked[0]!)}), so the held-out 0 % says nothing about composing unseen combinations: AFA does not yet draw every attribute of a scene even for combinations its experts were trained on.`,
    );
  } else {
    const standing = seenAll('afa') === seenRanked[0] ? (seenRanked.filter((v) => v === seenRanked[0]).length > 1 ? 'tied for the most' : 'the most of any method') : `the best method ${pct(seenRanked[0]!)}`;
    paragraphs.push(
      `Against what the VAE allows: ${ceiling}. ${shortfall} On training-split captions AFA gets ${pct(seenAll('afa'))} entirely right (${standing}), against ${pct(afaAcc.mean)} on held-out combinations${seenAll('afa') > afaAcc.mean ? ': the difference is what it fails to compose from parts it saw apart' : ': combinations it never saw cost it nothing here'}.`,
    );
  }

  // Steps.
  const bestExpertAt = (si: number) => experts.reduce((best, key) => (meanOf(allAt(key, si)) > meanOf(allAt(best, si)) ? key : best), experts[0]!);
  const stepDifferences = result.stepCounts.map((_, si) => {
    const expert = bestExpertAt(si);
    return { expert, d: bootstrapDifference(allAt('afa', si), allAt(expert, si), { seed }) };
  });
  const stepSentences = stepDifferences.map(({ expert, d }, si) => `${result.stepCounts[si]} steps ${signedPct(d.mean)} points against ${label(expert)} (${signedPct(d.low)}…${signedPct(d.high)})`);
  paragraphs.push(`**Fewer steps (Fig. 4).** AFA minus the best single expert at each step count, all attributes right: ${stepSentences.join('; ')}. ${stepTrend(result.stepCounts, stepDifferences.map(({ d }) => d))} (The paper's Fig. 4 claims AFA's advantage holds as the steps are cut.)`);

  // Ablation.
  const spatial = data.comparisons.find((c) => c.key === 'afa-no-spatial')!;
  const accMain = spatial.acc[mainIndex]!;
  const verdict = (e: Estimate, lowerIsBetter: boolean) => (!excludesZero(e) ? 'no resolved difference' : (e.mean < 0) === lowerIsBetter ? 'spatial awareness helps' : 'the aggregators without it do better');
  paragraphs.push(
    `**Spatial awareness.** Against its ablation, AFA's ε-MSE differs by ${signedMse(spatial.error.mean)} (${signedMse(spatial.error.low)}…${signedMse(spatial.error.high)}: ${verdict(spatial.error, true)}) and its all-right accuracy at ${result.mainSteps} steps by ${signedPct(accMain.mean)} points (${signedPct(accMain.low)}…${signedPct(accMain.high)}: ${verdict(accMain, false)}).${result.ablation.source.startsWith('no record') ? ' The ablation was not trained like the recipe\'s aggregators (see above), so this comparison is not like for like.' : ''}`,
  );

  // Contributions.
  const afaContributions = result.contributions.afa;
  if (afaContributions) {
    const K = result.experts.length;
    const overall = sharesWhere(afaContributions.imageShares, result.promptScenes, () => true, K).shares;
    const top = overall.indexOf(Math.max(...overall));
    const sentences: string[] = [];
    result.experts.forEach((expert, k) => {
      let best = { label: '', share: -Infinity, n: 0 };
      for (const group of ATTRIBUTE_GROUPS) {
        for (const value of group.values) {
          const { shares, n } = sharesWhere(afaContributions.imageShares, result.promptScenes, value.test, K);
          if (n >= 3 && shares[k]! - overall[k]! > best.share) best = { label: `${group.attribute}: ${value.label}`, share: shares[k]! - overall[k]!, n };
        }
      }
      // Differences under a percentage point are left unsaid: the table has them, and they are noise.
      if (best.n > 0 && best.share >= 0.01) sentences.push(`${expert.name}'s share is highest relative to its mean on *${best.label}* (${(100 * (overall[k]! + best.share)).toFixed(1)} % against ${(100 * overall[k]!).toFixed(1)} % over all prompts)`);
    });
    const plain = sharesWhere(afaContributions.backgroundShares, result.promptScenes, (s) => s.background.pattern === 'plain', K);
    const textured = sharesWhere(afaContributions.backgroundShares, result.promptScenes, (s) => TEXTURED.has(s.background.pattern), K);
    let textureSentence = '';
    if (plain.n > 0 && textured.n > 0) {
      const gains = textured.shares.map((s, k) => s - plain.shares[k]!);
      const gainer = gains.indexOf(Math.max(...gains));
      textureSentence = ` On background cells, the expert whose share rises most from plain to striped or checked backgrounds is ${result.experts[gainer]!.name} (${(100 * plain.shares[gainer]!).toFixed(1)} % → ${(100 * textured.shares[gainer]!).toFixed(1)} %; ${plain.n} and ${textured.n} prompts).`;
    }
    const byAttribute = sentences.length > 0 ? `${sentences.join('; ')}.` : 'No expert\'s share moves by a percentage point or more with any caption attribute in the table.';
    paragraphs.push(`**Who dominates.** Over all prompts and full-resolution points, ${result.experts[top]!.name} has the largest mean weight (${overall.map((s, k) => `${result.experts[k]!.name} ${(100 * s).toFixed(1)} %`).join(', ')}). ${byAttribute}${textureSentence} These are means over ${result.promptScenes.length} prompts without intervals; treat differences of a few points as noise.`);
  }
  return paragraphs.flatMap((p) => [p, '']).slice(0, -1);
}
