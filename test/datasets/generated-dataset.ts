// Small generated training sets for the dataset and training tests: coloured squares on gradients,
// one caption per image naming its colour (PNG files written by sharp).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const COLOURS: readonly [string, [number, number, number]][] = [
  ['red', [220, 40, 40]],
  ['green', [40, 200, 60]],
  ['blue', [40, 60, 220]],
  ['yellow', [230, 220, 50]],
];

/** Raw RGB pixels [height, width, 3] of image `index`: a gradient background with a coloured square. */
export function generatedPixels(index: number, width: number, height: number): Buffer {
  const [, colour] = COLOURS[index % COLOURS.length]!;
  const data = Buffer.alloc(width * height * 3);
  const size = Math.floor(Math.min(width, height) / 2);
  const left = (index * 7) % (width - size);
  const top = (index * 5) % (height - size);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= left && x < left + size && y >= top && y < top + size;
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = inside ? colour[c]! : Math.round(((x + y + c * 20) / (width + height + 40)) * 255);
    }
  }
  return data;
}

export function captionOf(index: number): string {
  return `a ${COLOURS[index % COLOURS.length]![0]} square`;
}

/** `count` PNG images of `size`² with same-name .txt captions, half of them in a nested folder. */
export async function writeGeneratedDataset(dir: string, count: number, size = 64): Promise<string> {
  mkdirSync(join(dir, 'nested'), { recursive: true });
  for (let i = 0; i < count; i++) {
    const folder = i % 2 === 0 ? dir : join(dir, 'nested');
    const name = `image-${String(i).padStart(2, '0')}`;
    await sharp(generatedPixels(i, size, size), { raw: { width: size, height: size, channels: 3 } }).png().toFile(join(folder, `${name}.png`));
    writeFileSync(join(folder, `${name}.txt`), captionOf(i));
  }
  return dir;
}
