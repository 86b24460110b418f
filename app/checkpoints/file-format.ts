// Which container a weights file really is, by its first bytes rather than its name: a pickle renamed to
// `.safetensors` must be refused as unsafe, not parsed. Loading a pickle (PyTorch .ckpt/.pt/.pth/.bin)
// runs whatever code its author put in it, so the studio never opens one.
//   pickle (protocol 2–5): 0x80 then the protocol byte — PyTorch's legacy format starts with one too
//   zip (PyTorch ≥ 1.6 torch.save): 'PK\x03\x04'
//   tar (PyTorch < 0.4 legacy): 'ustar' at byte 257
//   safetensors: u64 little-endian header length, then the header, which starts with '{'
//   GGUF (llama.cpp quantised files): 'GGUF'
import { closeSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { UserError } from '../common/errors.ts';

export type FileFormat = 'safetensors' | 'pickle' | 'zip' | 'tar' | 'gguf' | 'unknown';

/** Extensions of PyTorch pickle checkpoints, refused without reading them. */
export const PICKLE_EXTENSIONS: ReadonlySet<string> = new Set(['.ckpt', '.pt', '.pth', '.bin', '.pkl', '.pickle']);

export function sniffFileFormat(path: string): FileFormat {
  const head = readHead(path, 512);
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return 'pickle';
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar') return 'tar';
  if (head.length >= 4 && new TextDecoder().decode(head.subarray(0, 4)) === 'GGUF') return 'gguf';
  if (head.length >= 9 && head[8] === 0x7b /* '{' */) return 'safetensors';
  return 'unknown';
}

export function unsafeFileError(path: string, why: string): UserError {
  return new UserError(
    'unsafe-file',
    `${path} ${why}. Pickle files (.ckpt, .pt, .pth, .bin) can run arbitrary code when they are loaded, so AFA Studio does not open them.`,
    'Convert it to .safetensors with a tool you trust (for example the safetensors converter of the model\'s publisher, or diffusers/sd-webui on a machine you control), or download the .safetensors version of the model.',
  );
}

/**
 * Throws unless `path` is a safetensors file: UserError('unsafe-file') for pickles and PyTorch zips/tars
 * (whatever their extension), 'unsupported' for GGUF, 'corrupt-file' for anything else.
 */
export function assertSafetensorsFile(path: string): void {
  const extension = extname(path).toLowerCase();
  if (PICKLE_EXTENSIONS.has(extension)) throw unsafeFileError(path, `is a PyTorch pickle checkpoint (${extension})`);
  const format = sniffFileFormat(path);
  switch (format) {
    case 'safetensors':
      return;
    case 'pickle':
      throw unsafeFileError(path, 'is a Python pickle (its first bytes say so, whatever its name)');
    case 'zip':
    case 'tar':
      throw unsafeFileError(path, `is a PyTorch checkpoint archive (${format}, containing a pickle), whatever its name`);
    case 'gguf':
      throw new UserError('unsupported', `${path} is a GGUF file; only .safetensors checkpoints and diffusers folders can be imported.`);
    case 'unknown':
      throw new UserError(
        'corrupt-file',
        `${path} is not a safetensors file (its first bytes are not a safetensors header).`,
        'The file is damaged or not a model; download it again.',
      );
  }
}

function readHead(path: string, length: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError('not-found', `${path} does not exist.`, 'Check the path.');
    throw error;
  }
  try {
    const buffer = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const count = readSync(fd, buffer, done, length - done, done);
      if (count === 0) break;
      done += count;
    }
    return buffer.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}
