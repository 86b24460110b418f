// Pixels of any image the studio accepts: PNG through pngjs (png.ts), JPEG and WebP through sharp
// (libvips), turned upright by their EXIF orientation as viewers show them.
import sharp from 'sharp';
import { UserError } from '../common/errors.ts';
import { imageFormatOf } from './image-metadata.ts';
import { decodePng, type PixelImage } from './png.ts';

/** Decodes a PNG, JPEG or WebP file to 8-bit RGBA pixels; UserError('corrupt-file'/'unsupported') otherwise. */
export async function decodeImage(bytes: Uint8Array): Promise<PixelImage> {
  const format = imageFormatOf(bytes);
  if (format === 'png') return decodePng(bytes);
  if (format === undefined) throw new UserError('unsupported', 'This file is not a PNG, JPEG or WebP image.');
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error' }).rotate().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, channels: 4, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (error) {
    throw new UserError('corrupt-file', `The ${format === 'jpeg' ? 'JPEG' : 'WebP'} image cannot be decoded: ${(error as Error).message}.`);
  }
}

/** The file extension an image of this content is stored under. */
export function imageExtension(bytes: Uint8Array): 'png' | 'jpg' | 'webp' | undefined {
  const format = imageFormatOf(bytes);
  return format === 'jpeg' ? 'jpg' : format;
}
