// `afa generate --maps <folder>`: AFA's contribution maps as files a person can open — per recorded step
// a PNG where each pixel has the colour of the model that dominated it (scaled up 8× to the image's size),
// and one JSON with the members, their colours and their share of the image at each step.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { UserError } from '../common/errors.ts';
import type { Contributions } from '../ensemble/contribution-recorder.ts';
import { encodePng } from '../images/png.ts';

/** Distinct colours for up to 6 members (colour-blind-friendly Okabe–Ito palette). */
export const MEMBER_COLOURS: readonly (readonly [number, number, number])[] = [
  [230, 159, 0],
  [86, 180, 233],
  [0, 158, 115],
  [240, 228, 66],
  [0, 114, 178],
  [204, 121, 167],
];

const SCALE = 8;

export function checkMapsFolder(folder: string): string {
  const absolute = resolve(folder);
  if (existsSync(absolute)) return absolute;
  mkdirSync(absolute, { recursive: true });
  return absolute;
}

/** Writes the maps of one generation; returns the files written (none when it recorded no maps). */
export function writeContributionMaps(folder: string, generationId: string, encoded: unknown): string[] {
  if (typeof encoded !== 'string') return [];
  let map: Contributions;
  try {
    map = JSON.parse(encoded) as Contributions;
  } catch {
    throw new UserError('corrupt-file', `The contribution maps of ${generationId} are not valid JSON.`);
  }
  const files: string[] = [];
  const { width, height } = map;
  for (const step of map.steps) {
    const dominant = Buffer.from(step.dominant, 'base64');
    const data = new Uint8Array(width * SCALE * height * SCALE * 3);
    for (let y = 0; y < height * SCALE; y++) {
      for (let x = 0; x < width * SCALE; x++) {
        const colour = MEMBER_COLOURS[dominant[Math.floor(y / SCALE) * width + Math.floor(x / SCALE)]! % MEMBER_COLOURS.length]!;
        data.set(colour, (y * width * SCALE + x) * 3);
      }
    }
    const path = join(folder, `${generationId}-step${String(step.step + 1).padStart(3, '0')}.png`);
    writeFileAtomic(path, encodePng({ width: width * SCALE, height: height * SCALE, channels: 3, data }));
    files.push(path);
  }
  const legend = {
    generationId,
    members: map.members.map((member, index) => ({ ...member, colour: `rgb(${MEMBER_COLOURS[index % MEMBER_COLOURS.length]!.join(', ')})` })),
    steps: map.steps.map((step) => ({ step: step.step + 1, shares: step.shares })),
  };
  const json = join(folder, `${generationId}-contributions.json`);
  writeFileAtomic(json, new TextEncoder().encode(`${JSON.stringify(legend, null, 2)}\n`));
  files.push(json);
  return files;
}
