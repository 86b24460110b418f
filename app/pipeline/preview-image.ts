// Step previews leave the engine as small PNG data URLs: plain strings that every transport carries
// (Electron IPC, the web mode's WebSocket) and an <img> shows as they are. A 64×64 latent preview (a
// 512² image) encodes to ~10 kB in well under a millisecond.
import { encodePng } from '../images/png.ts';
import type { RgbImage } from './preview.ts';

export function previewDataUrl(preview: RgbImage): string {
  const png = encodePng({ width: preview.width, height: preview.height, channels: 3, data: preview.rgb });
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}
