// The history service over a real library and real files: what reconciliation at start-up offers
// (orphan images to import, rows whose image vanished kept as missing), PNG import from paths and
// uploads, export of a selection with its settings, the trash (undo, empty), date filters, and the
// prompt token count.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../../app/api/api-error.ts';
import { createDispatcher } from '../../app/api/dispatch.ts';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import { uploadFolder } from '../../app/api/uploads.ts';
import { tinyGenerationSettings, writeOldFile } from '../library/history-fixtures.ts';
import { Library } from '../../app/library/library.ts';
import { a1111Png, comfyUiPng, FIXTURE, invokeAiPng, testImage } from '../images/foreign-fixtures.ts';
import sharp from 'sharp';
import { asciiField, ascii, concat, jpegWith, tiff, undefinedField, utf16, webpImageChunks, webpWith } from '../images/container-writers.ts';
import { BIG_SEED, SWARM_JSON, comfyFluxPrompt } from '../images/tool-fixtures.ts';

function swarmJpegFrom(image: Uint8Array): Uint8Array {
  const exif = tiff(true, new Map(), new Map([[0x9286, undefinedField(concat(ascii('UNICODE\0'), utf16(SWARM_JSON, true)))]]));
  return jpegWith({ exif }, image);
}

function comfyWebpFrom(simple: Uint8Array): Uint8Array {
  const exif = tiff(true, new Map([[0x0110, asciiField(`prompt:${comfyFluxPrompt()}`)]]));
  return webpWith({ exif, width: 40, height: 30 }, webpImageChunks(simple));
}

let home: string;
let outside: string;
let services: StudioServices;
const ids: Record<string, string> = {};
const orphanA = 'images/2023-05-05/from-a-backup.png';
const orphanB = 'images/2023-05-05/another.png';

const settings = (prompt: string) => tinyGenerationSettings(prompt, 1);


function isApiError(code: string) {
  return (error: unknown) => error instanceof ApiError && error.code === code;
}

before(() => {
  home = mkdtempSync(join(tmpdir(), 'afa-history-'));
  outside = mkdtempSync(join(tmpdir(), 'afa-history-outside-'));
  const library = Library.open({ home });
  const dates: [string, string][] = [['fox', '2024-01-10T12:00:00Z'], ['whale', '2024-06-10T12:00:00Z'], ['frog', '2025-01-10T12:00:00Z'], ['ghost', '2025-02-10T12:00:00Z']];
  for (const [word, date] of dates) {
    ids[word] = library.recordGeneration({ settings: settings(`a ${word}`), image: testImage(), createdAt: Date.parse(date) }).id;
  }
  // The ghost's image is deleted behind the studio's back; two PNGs appear that no row refers to.
  rmSync(library.absolutePath(library.generations.require(ids.ghost!).imagePath!));
  library.close();
  writeOldFile(join(home, ...orphanA.split('/')), a1111Png());
  writeOldFile(join(home, ...orphanB.split('/')), a1111Png());
  services = createStudioServices({ home });
});

after(async () => {
  await services.dispose();
  rmSync(home, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

test('opening the studio reports orphan images and keeps rows whose image vanished, marked missing', async () => {
  assert.deepEqual(await services.history.reconcileReport(), { orphanFiles: [orphanB, orphanA], missingCount: 1 });
  const page = await services.history.search({});
  assert.equal(page.total, 4);
  assert.deepEqual(page.items.filter((item) => item.missing).map((item) => item.id), [ids.ghost]);
  const ghost = await services.history.get({ id: ids.ghost! });
  assert.equal(ghost.missing, true);
  assert.equal(ghost.prompt, 'a ghost');
});

test('orphans are imported in place on request, only those on offer, and the rest can be dismissed', async () => {
  await assert.rejects(services.history.importOrphans({ paths: ['library.sqlite'] }), isApiError('not-found'));
  await assert.rejects(services.history.importOrphans({ paths: [orphanA, '../outside.png'] }), isApiError('not-found'));
  const changes: string[] = [];
  const off = services.history.onDidChange((change) => changes.push(change.reason));
  const result = await services.history.importOrphans({ paths: [orphanA] });
  off();
  assert.equal(result.ids.length, 1);
  assert.deepEqual(result.skipped, []);
  assert.deepEqual(changes, ['add']);
  const record = await services.history.get({ id: result.ids[0]! });
  assert.equal(record.image.path, orphanA);
  assert.equal(record.source, 'automatic1111');
  assert.equal(record.prompt, FIXTURE.prompt);
  assert.deepEqual((await services.history.reconcileReport()).orphanFiles, [orphanB]);
  await services.history.dismissOrphans();
  assert.deepEqual((await services.history.reconcileReport()).orphanFiles, []);
  assert.ok(existsSync(join(home, ...orphanB.split('/'))), 'dismissing leaves the file alone');
  await assert.rejects(services.history.importOrphans({ paths: [orphanB] }), isApiError('not-found'));
});

test('PNGs from other tools are imported from a path and from uploads; bad files are named, uploads removed', async () => {
  const invoke = join(outside, 'invoke.png');
  writeFileSync(invoke, invokeAiPng());
  const upload = (uploadId: string, fileName: string, bytes: Uint8Array) => {
    mkdirSync(uploadFolder(home, uploadId), { recursive: true });
    writeFileSync(join(uploadFolder(home, uploadId), fileName), bytes);
    return { kind: 'upload' as const, uploadId, fileName };
  };
  const comfy = upload('a'.repeat(32), 'comfy.png', comfyUiPng());
  const notes = upload('b'.repeat(32), 'notes.png', new TextEncoder().encode('not an image'));
  const result = await services.history.importImages({ sources: [{ kind: 'path', path: invoke }, comfy, notes] });
  assert.equal(result.ids.length, 2);
  assert.equal(result.skipped.length, 1);
  assert.equal(result.skipped[0]!.file, 'notes.png');
  assert.match(result.skipped[0]!.reason, /^notes\.png is not a PNG, JPEG or WebP image/);
  assert.ok(!result.skipped[0]!.reason.includes(home), 'the upload folder is not shown to the user');
  assert.equal(existsSync(uploadFolder(home, comfy.uploadId)), false);
  assert.equal(existsSync(uploadFolder(home, notes.uploadId)), false);
  assert.ok(existsSync(invoke), 'the user’s own file stays');
  const sources = await Promise.all(result.ids.map(async (id) => (await services.history.get({ id })).source));
  assert.deepEqual(sources.sort(), ['comfyui', 'invokeai']);
  const found = await services.history.search({ text: 'lighthouse' });
  assert.equal(found.total, 3);
});

test('JPEG and WebP images from other tools are imported as they are; the original tool’s settings are kept and searchable', async () => {
  // Real pixels from sharp, with each tool's metadata spliced in as the tool writes it.
  const pixels = sharp(Buffer.from(testImage(40, 30).data), { raw: { width: 40, height: 30, channels: 3 } });
  const jpeg = swarmJpegFrom(new Uint8Array(await pixels.clone().jpeg().toBuffer()));
  const webp = comfyWebpFrom(new Uint8Array(await pixels.clone().webp({ lossless: true }).toBuffer()));
  const jpegPath = join(outside, 'swarm.jpg');
  const webpPath = join(outside, 'comfy.webp');
  writeFileSync(jpegPath, jpeg);
  writeFileSync(webpPath, webp);
  const result = await services.history.importImages({ sources: [{ kind: 'path', path: jpegPath }, { kind: 'path', path: webpPath }] });
  assert.deepEqual(result.skipped, []);
  const [swarm, comfy] = await Promise.all(result.ids.map((id) => services.history.get({ id })));
  assert.equal(swarm!.source, 'swarmui');
  assert.equal(swarm!.request.prompt, 'a tiny robot watering plants, <lora:cute_style>');
  assert.equal(swarm!.request.seed, 1482910384);
  assert.match(swarm!.image.path, /\.jpg$/);
  assert.deepEqual(new Uint8Array(readFileSync(join(home, ...swarm!.image.path.split('/')))), jpeg, 'stored byte for byte');
  assert.equal(swarm!.imported?.model, 'OfficialStableDiffusion/sd_xl_base_1.0');
  assert.equal(swarm!.imported?.LoRAs, 'cute_style:0.8');
  assert.equal(comfy!.source, 'comfyui');
  assert.match(comfy!.image.path, /\.webp$/);
  assert.equal(comfy!.request.seed, 0, 'a seed beyond 2^53 cannot be run here…');
  assert.equal(comfy!.imported?.seed, BIG_SEED, '…and is kept exactly');
  assert.equal(comfy!.imported?.['Distilled CFG Scale'], '3.5');
  for (const [words, id] of [['SwarmUI', swarm!.id], ['sd_xl_base', swarm!.id], ['flux1', comfy!.id], ['realism_lora', comfy!.id]] as const) {
    const found = await services.history.search({ text: words });
    assert.deepEqual(found.items.map((item) => item.id), [id], `search for ${words}`);
  }
});

test('a selection is exported with settings.json and settings.csv; a missing image is skipped and said so', async () => {
  const folder = join(outside, 'export');
  const result = await services.history.export({ ids: [ids.fox!, ids.whale!, ids.ghost!], directory: folder });
  assert.equal(result.directory, folder);
  assert.deepEqual(result.files.map((file) => file.slice(folder.length + 1)).sort(), [`${ids.fox}.png`, `${ids.whale}.png`].sort());
  assert.deepEqual(result.settingsFiles.map((file) => file.slice(folder.length + 1)), ['settings.json', 'settings.csv']);
  assert.deepEqual(result.skipped.map((s) => s.id), [ids.ghost]);
  const csv = readFileSync(join(folder, 'settings.csv'), 'utf8').trim().split('\r\n');
  assert.equal(csv.length, 3);
  assert.match(csv[0]!, /^file,id,createdAt,prompt/);
  const json = JSON.parse(readFileSync(join(folder, 'settings.json'), 'utf8')) as { settings: { prompt: string } }[];
  assert.deepEqual(json.map((entry) => entry.settings.prompt).sort(), ['a fox', 'a whale']);

  const csvOnly = await services.history.export({ ids: [ids.frog!], directory: join(outside, 'csv-only'), settings: 'csv' });
  assert.deepEqual(csvOnly.settingsFiles.map((file) => file.slice(-12)), ['settings.csv']);
  await assert.rejects(services.history.export({ ids: [ids.ghost!], directory: join(outside, 'nothing') }), isApiError('not-found'));
  await assert.rejects(services.history.export({ ids: [ids.fox!], directory: folder }), (error: unknown) => error instanceof Error && /already exists/.test(error.message));
});

test('the date range filters by creation time: from inclusive, to exclusive', async () => {
  const in2024 = await services.history.search({ from: '2024-01-01T00:00:00.000Z', to: '2025-01-01T00:00:00.000Z' });
  assert.deepEqual(in2024.items.map((item) => item.id), [ids.whale, ids.fox]);
  assert.equal(in2024.total, 2);
  const fromFrog = await services.history.search({ from: '2025-01-10T12:00:00.000Z', text: 'a' });
  assert.ok(fromFrog.items.some((item) => item.id === ids.frog));
  assert.ok(!fromFrog.items.some((item) => item.id === ids.whale));
  const beforeFrog = await services.history.search({ to: '2025-01-10T12:00:00.000Z' });
  assert.ok(!beforeFrog.items.some((item) => item.id === ids.frog));
  assert.ok(beforeFrog.items.some((item) => item.id === ids.whale));
  const dispatcher = createDispatcher(services);
  const refused = await dispatcher.invoke('history.search', { from: 'last tuesday' });
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.error.code, 'bad-request');
});

test('deleting moves to the trash: undo restores, emptying deletes for good and ends the undo', async () => {
  const before = (await services.history.search({})).total;
  const { undoToken } = await services.history.delete({ ids: [ids.fox!, ids.whale!] });
  assert.deepEqual(await services.history.trashInfo(), { count: 2 });
  assert.equal((await services.history.search({})).total, before - 2);
  await services.history.undo({ undoToken });
  assert.deepEqual(await services.history.trashInfo(), { count: 0 });
  assert.equal((await services.history.search({})).total, before);
  const image = (await services.history.get({ id: ids.fox! })).image.path;
  assert.ok(existsSync(join(home, ...image.split('/'))));

  const second = await services.history.delete({ ids: [ids.fox!] });
  assert.deepEqual(await services.history.emptyTrash(), { removed: 1 });
  assert.deepEqual(await services.history.trashInfo(), { count: 0 });
  assert.equal(existsSync(join(home, ...image.split('/'))), false);
  await assert.rejects(services.history.undo({ undoToken: second.undoToken }), isApiError('not-found'));
  await assert.rejects(services.history.get({ id: ids.fox! }), isApiError('not-found'));
});

test('prompt tokens are counted with the SD1.x tokenizer against its 75-token window', async () => {
  assert.deepEqual(await services.prompts.countTokens({ text: 'a photo of a cat' }), { tokens: 5, max: 75 });
  assert.deepEqual(await services.prompts.countTokens({ text: '' }), { tokens: 0, max: 75 });
  const long = await services.prompts.countTokens({ text: Array.from({ length: 80 }, () => 'cat').join(', ') });
  assert.equal(long.tokens, 159);
});
