// Demo scene benchmark (issue #12: the demo family's data is rendered on the fly, so it must be cheap):
// CPU time to draw and render 10 000 scenes at 64 px (target < 10 s: "seconds, not minutes"), to write
// a 1000-image dataset folder (PNG + caption), and for the scene checker to read 1000 clean and 1000
// degraded renders. CPU time of this process, not wall time, so other load on the machine matters less.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { BenchResult } from './bench-result.ts';
import { degradeImage } from '../app/demo/degrade.ts';
import { detectScene } from '../app/demo/scene-checker.ts';
import { writeSceneDataset } from '../app/demo/scene-dataset.ts';
import { renderScene, sceneAt } from '../app/demo/scenes.ts';

async function cpuSeconds(run: () => void | Promise<void>): Promise<number> {
  const start = process.cpuUsage();
  await run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

export async function benchDemoScenes(): Promise<BenchResult[]> {
  const render = await cpuSeconds(() => {
    for (let i = 0; i < 10_000; i++) renderScene(sceneAt(1, i), 64);
  });
  const folder = join(tmpdir(), `afa-bench-demo-${process.pid}`);
  const write = await cpuSeconds(async () => {
    await writeSceneDataset(folder, { count: 1000, seed: 1 });
  });
  rmSync(folder, { recursive: true, force: true });
  const images = Array.from({ length: 1000 }, (_, i) => renderScene(sceneAt(2, i), 64));
  const clean = await cpuSeconds(() => images.forEach((image) => detectScene(image, 64)));
  const degraded = images.map((image, i) => degradeImage(image, 64, i));
  const noisy = await cpuSeconds(() => degraded.forEach((image) => detectScene(image, 64)));
  return [
    { name: 'render 10 000 scenes at 64 px', value: render, unit: 's CPU', target: '< 10', pass: render < 10 },
    { name: 'write a 1000-scene dataset folder', value: write, unit: 's CPU' },
    { name: 'check 1000 clean renders', value: clean, unit: 's CPU' },
    { name: 'check 1000 degraded renders', value: noisy, unit: 's CPU' },
  ];
}
