// `afa info` end to end: the real bin in a child process, on fixture images written in each tool's format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, temporaryDirectory } from '../pipeline/tiny-model.ts';
import { pngWithChunks } from '../images/container-writers.ts';
import { BIG_SEED, A1111_FULL, a1111Jpeg, comfyFluxPrompt, comfyWebp, comfyWorkflowWithPrimitive, novelAiV3Png } from '../images/tool-fixtures.ts';

const BIN = join(repoRoot, 'bin', 'afa.js');

function afa(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, AFA_STUDIO_HOME: '/nonexistent-afa-home' }, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('afa info: settings of PNG, JPEG and WebP images from several tools, as text, with --raw and as JSON', (t) => {
  const folder = temporaryDirectory(t, 'afa-info-');
  const files = {
    jpeg: join(folder, 'a1111.jpg'),
    webp: join(folder, 'comfy.webp'),
    novelai: join(folder, 'nai.png'),
    plain: join(folder, 'plain.png'),
  };
  writeFileSync(files.jpeg, a1111Jpeg(A1111_FULL));
  writeFileSync(files.webp, comfyWebp(comfyFluxPrompt(), JSON.stringify(comfyWorkflowWithPrimitive())));
  writeFileSync(files.novelai, novelAiV3Png());
  writeFileSync(files.plain, pngWithChunks([{ keyword: 'Software', text: 'GIMP 2.10' }]));

  const text = afa('info', files.jpeg, files.novelai);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /a1111\.jpg: AUTOMATIC1111 \(JPEG, 512x768 pixels\)/);
  assert.match(text.stdout, /^ {2}seed +99999999999999999999$/m);
  assert.match(text.stdout, /^ {2}sampler +DPM\+\+ 2M \(studio: dpmpp-2m-karras\)$/m);
  assert.match(text.stdout, /^ {2}LoRAs +add_detail:0\.7 \[7c6bad76eb54\]$/m);
  assert.match(text.stdout, /^ {2}ADetailer prompt +a smiling face, detailed eyes$/m);
  assert.match(text.stdout, /nai\.png: NovelAI \(PNG/);

  const raw = afa('info', files.novelai, '--raw');
  assert.match(raw.stdout, /\[tEXt\] Software: NovelAI/);

  const one = afa('info', files.webp, '--json');
  assert.equal(one.status, 0, one.stderr);
  const document = JSON.parse(one.stdout) as { ok: boolean; file: string; tool: string; settings: Record<string, unknown>; other: Record<string, string>; chunks: { container: string; key: string }[] };
  assert.equal(document.ok, true);
  assert.equal(document.file, files.webp);
  assert.equal(document.tool, 'comfyui');
  assert.equal(document.settings.seed, BIG_SEED);
  assert.equal(document.settings.prompt, 'a cozy cabin in the woods, snow');
  assert.equal(document.settings.modelName, 'flux1-dev');
  assert.equal(document.other['Distilled CFG Scale'], '3.5');
  assert.deepEqual(document.chunks.map((chunk) => [chunk.container, chunk.key]), [['EXIF', 'Make'], ['EXIF', 'Model']]);

  // A file without settings: exit 2, a message saying what it holds; the other files are still reported.
  const mixed = afa('info', files.plain, files.novelai);
  assert.equal(mixed.status, 2);
  assert.match(mixed.stderr, /plain\.png carries no generation settings: it is a PNG image \(24x16\) with metadata Software, none of it generation settings/);
  assert.match(mixed.stdout, /NovelAI/);
  const mixedJson = JSON.parse(afa('info', files.plain, files.novelai, '--json').stdout) as { ok: boolean; images: { tool: string | null; error?: { message: string } }[] };
  assert.equal(mixedJson.ok, false);
  assert.deepEqual(mixedJson.images.map((image) => image.tool), [null, 'novelai']);
  assert.match(mixedJson.images[0]!.error!.message, /carries no generation settings/);

  const missing = afa('info', join(folder, 'nope.png'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.png cannot be read: there is no such file/);
});
