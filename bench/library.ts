// Library benchmark (issue: "100 000 generations — search and a page of 60 with filters in < 30 ms,
// insert < 2 ms each"). Builds a history of 100 000 rows in a temporary studio home, then times:
// single-row inserts (each its own transaction, as a finishing job does them), FTS searches with a
// page of 60, filtered pages, a page deep into the history by cursor, and recording one 512x512
// image end to end (PNG encode + thumbnail + files + row), which has no target but is worth knowing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { GenerationSettings } from '../app/images/generation-settings.ts';
import type { GenerationQuery } from '../app/library/generations-table.ts';
import { Library } from '../app/library/library.ts';
import type { BenchResult } from './bench-result.ts';

const HISTORY = 100_000;
const MODELS = 12;
const DAY_MS = 24 * 60 * 60 * 1000;

const SUBJECTS = ['portrait', 'landscape', 'cat', 'dog', 'castle', 'forest', 'city', 'robot', 'dragon', 'ship', 'mountain', 'river',
  'woman', 'man', 'child', 'owl', 'fox', 'wolf', 'horse', 'flower', 'garden', 'desert', 'ocean', 'temple', 'village', 'bridge',
  'lighthouse', 'spaceship', 'astronaut', 'knight', 'wizard', 'samurai', 'train', 'car', 'bicycle', 'library', 'kitchen', 'cafe'];
const STYLES = ['oil painting', 'watercolor', 'photograph', 'digital art', 'concept art', 'pencil sketch', 'anime', 'pixel art',
  'studio lighting', 'golden hour', 'cinematic', 'octane render', 'unreal engine', 'trending on artstation', 'highly detailed',
  'sharp focus', 'bokeh', 'volumetric light', 'matte painting', 'ukiyo-e', 'art nouveau', 'baroque', 'impressionist', 'surreal'];
const ADJECTIVES = ['red', 'blue', 'green', 'golden', 'silver', 'ancient', 'futuristic', 'tiny', 'giant', 'misty', 'snowy', 'rainy',
  'glowing', 'dark', 'bright', 'cozy', 'abandoned', 'overgrown', 'floating', 'crystal', 'wooden', 'stone', 'neon', 'vintage'];
const NEGATIVES = ['blurry', 'lowres', 'bad anatomy', 'watermark', 'text', 'jpeg artifacts', 'deformed', 'extra fingers', 'cropped'];
const METHODS = ['single', 'afa', 'average'];

// Deterministic pseudo-random numbers (mulberry32) so every run builds the same history.
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)];
}

function modelId(index: number): string {
  return index.toString(16).padStart(2, '0').repeat(32);
}

function settingsFor(next: () => number): GenerationSettings {
  const method = pick(next, METHODS);
  const count = method === 'single' ? 1 : 2 + Math.floor(next() * 3);
  const members = Array.from({ length: count }, () => {
    const index = Math.floor(next() * MODELS);
    return { modelId: modelId(index), shortHash: modelId(index).slice(0, 10), name: `model-${index}` };
  });
  const words = [pick(next, ADJECTIVES), pick(next, SUBJECTS), 'by the', pick(next, SUBJECTS), pick(next, STYLES), pick(next, STYLES)];
  return {
    prompt: `${words.join(', ')}, seed study ${Math.floor(next() * 1000)}`,
    negativePrompt: `${pick(next, NEGATIVES)}, ${pick(next, NEGATIVES)}`,
    seed: Math.floor(next() * 2 ** 32),
    steps: 20 + Math.floor(next() * 30),
    guidance: 5 + Math.round(next() * 60) / 10,
    sampler: pick(next, ['ddim', 'euler', 'euler-a', 'dpmpp-2m-karras']),
    width: 512,
    height: 512,
    batchIndex: 0,
    recipe: { recipeId: null, name: null, method, members, aggregatorId: method === 'afa' ? 'agg_bench' : null },
  };
}

export function fillHistory(library: Library, count: number, start: number, next: () => number): void {
  const batch = library.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      library.generations.insert({
        createdAt: start + i * 60_000 + Math.floor(next() * 1000),
        settings: settingsFor(next),
        status: next() < 0.97 ? 'done' : 'failed',
        imagePath: `images/bench/${i}.png`,
        thumbnailPath: `thumbnails/bench/${i}.png`,
        favourite: next() < 0.05,
        tags: next() < 0.1 ? [pick(next, ['keeper', 'print', 'wip', 'client'])] : [],
      });
    }
  });
  for (let from = 0; from < count; from += 5000) batch(from, Math.min(count, from + 5000));
}

function timeMs(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function benchLibrary(): Promise<BenchResult[]> {
  const home = mkdtempSync(join(tmpdir(), 'afa-bench-library-'));
  const library = Library.open({ home });
  const results: BenchResult[] = [];
  try {
    const next = seededRandom(42);
    const start = Date.UTC(2024, 0, 1);
    const buildMs = timeMs(() => fillHistory(library, HISTORY, start, next));
    library.db.pragma('optimize');
    results.push({ name: `build history of ${HISTORY} rows (batched)`, value: buildMs / 1000, unit: 's' });

    // Single inserts on the full history, each its own IMMEDIATE transaction.
    const inserts: number[] = [];
    for (let i = 0; i < 500; i++) {
      const settings = settingsFor(next);
      const createdAt = start + (HISTORY + i) * 60_000;
      inserts.push(timeMs(() => library.generations.insert({ createdAt, settings, status: 'done', imagePath: `images/bench/new-${i}.png` })));
    }
    const insertMedian = percentile(inserts, 50);
    const insertP95 = percentile(inserts, 95);
    results.push({ name: 'insert one generation (median of 500)', value: insertMedian, unit: 'ms', target: '< 2 ms', pass: insertMedian < 2 });
    results.push({ name: 'insert one generation (p95 of 500)', value: insertP95, unit: 'ms', target: '< 2 ms', pass: insertP95 < 2 });
    // The WAL checkpoint those inserts need runs on the library's timer, outside any insert.
    results.push({ name: 'WAL checkpoint after the 500 inserts (timer, not in an insert)', value: timeMs(() => library.checkpoint()), unit: 'ms' });

    const end = start + HISTORY * 60_000;
    const firstPage = library.generations.list({});
    const deepCursor = library.generations.list({ limit: 500 });
    const queries: [string, GenerationQuery][] = [
      ['page of 60, no filter', {}],
      ['search common word "portrait"', { search: 'portrait' }],
      ['search rare pair "ukiyo-e owl"', { search: 'ukiyo-e owl' }],
      ['search prefix "lighth"', { search: 'lighth' }],
      ['search 3 rare words (~15 matches)', { search: 'abandoned lighthouse ukiyo' }],
      ['search word in every prompt "the" (worst case)', { search: 'the' }],
      ['search + model + method', { search: 'castle', modelId: modelId(3), method: 'afa' }],
      ['model filter', { modelId: modelId(7) }],
      ['favourites in a 30-day range', { favourite: true, from: end - 30 * DAY_MS, to: end }],
      ['method + status filter', { method: 'average', status: 'failed' }],
      ['search + favourite + date range', { search: 'forest', favourite: true, from: start, to: start + 60 * DAY_MS }],
      ['next page by cursor', { cursor: firstPage.nextCursor ?? undefined }],
      ['page 500 rows deep by cursor, with search', { search: 'dragon', cursor: deepCursor.nextCursor ?? undefined }],
    ];
    for (const [name, query] of queries) {
      library.generations.list(query); // warm the statement cache and pages
      const times = Array.from({ length: 30 }, () => timeMs(() => library.generations.list(query)));
      const median = percentile(times, 50);
      const p95 = percentile(times, 95);
      results.push({ name: `${name}: page of 60 (median)`, value: median, unit: 'ms', target: '< 30 ms', pass: median < 30 });
      results.push({ name: `${name}: page of 60 (p95)`, value: p95, unit: 'ms', target: '< 30 ms', pass: p95 < 30 });
    }

    const pixels = new Uint8Array(512 * 512 * 3);
    const fillNext = seededRandom(7);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(fillNext() * 64) + ((i / 1536) | 0) % 192;
    const records = Array.from({ length: 5 }, () => {
      const settings = settingsFor(next);
      return timeMs(() => library.recordGeneration({ settings, image: { width: 512, height: 512, channels: 3, data: pixels } }));
    });
    results.push({ name: 'record 512x512 image (encode + thumbnail + files + row), median of 5', value: percentile(records, 50), unit: 'ms' });

    const openMs = timeMs(() => Library.open({ home }).close());
    results.push({ name: `open library of ${HISTORY} rows`, value: openMs, unit: 'ms' });
  } finally {
    library.close();
    rmSync(home, { recursive: true, force: true });
  }
  return results;
}
