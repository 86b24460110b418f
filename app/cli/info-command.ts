// `afa info <image…>`: how each image was made, as its metadata says — the tool, the normalised
// settings, every other key the tool wrote, and with --raw the metadata texts as found. PNG, JPEG and
// WebP from AUTOMATIC1111, Forge, SD.Next, Stability Matrix, ComfyUI, InvokeAI, NovelAI, Fooocus,
// RuinedFooocus, SwarmUI, Draw Things, DiffusionBee and the studio itself.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import { describeContents, readImageInfo, toolName, type ImageInfo } from '../images/image-info.ts';
import type { ImportedSettings } from '../images/imported-settings.ts';
import type { CliCommand } from './cli-command.ts';
import { EXIT_BAD_INPUT, EXIT_OK } from './exit-codes.ts';

/** The settings as `--json` shows them: the tool's own sampler name, the studio's id beside it. */
function settingsJson(settings: ImportedSettings) {
  const entries = {
    prompt: settings.prompt,
    negativePrompt: settings.negativePrompt,
    seed: settings.seed,
    steps: settings.steps,
    sampler: settings.samplerLabel ?? settings.sampler,
    studioSampler: settings.sampler !== settings.samplerLabel || settings.source === 'afa-studio' ? settings.sampler : undefined,
    scheduler: settings.scheduler,
    guidance: settings.guidance,
    width: settings.width,
    height: settings.height,
    modelName: settings.modelName,
    modelHash: settings.modelHash,
    modelFamily: settings.modelFamily,
    loras: settings.loras,
  };
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined));
}

interface FileReport {
  readonly file: string;
  readonly info?: ImageInfo;
  readonly error?: string;
}

function report(path: string): FileReport {
  const file = resolve(path);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    return { file, error: `${file} cannot be read: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'there is no such file' : (error as Error).message}.` };
  }
  const info = readImageInfo(bytes);
  return info.settings ? { file, info } : { file, info, error: `${file} carries no generation settings: ${describeContents(info)}.` };
}

function fileJson({ file, info, error }: FileReport) {
  return {
    file,
    tool: info?.settings?.source ?? null,
    ...(info?.settings ? { toolName: toolName(info.settings) } : {}),
    format: info?.format ?? null,
    ...(info?.pixelWidth === undefined ? {} : { pixelWidth: info.pixelWidth, pixelHeight: info.pixelHeight }),
    settings: info?.settings ? settingsJson(info.settings) : null,
    other: info?.settings?.other ?? {},
    chunks: info?.chunks ?? [],
    problems: info?.problems ?? [],
    ...(error ? { error: { code: 'no-settings', message: error } } : {}),
  };
}

function textReport({ file, info }: FileReport, raw: boolean): string {
  const settings = info!.settings!;
  const rows: [string, string][] = [];
  const add = (label: string, value: unknown) => {
    if (value !== undefined && value !== '') rows.push([label, String(value)]);
  };
  add('prompt', settings.prompt);
  add('negative prompt', settings.negativePrompt);
  add('seed', settings.seed);
  add('steps', settings.steps);
  const samplerName = settings.samplerLabel ?? settings.sampler;
  add('sampler', samplerName === undefined ? undefined : samplerName + (settings.sampler && settings.sampler !== samplerName ? ` (studio: ${settings.sampler})` : ''));
  add('scheduler', settings.scheduler);
  add('CFG', settings.guidance);
  add('size', settings.width === undefined ? undefined : `${settings.width}x${settings.height}`);
  add('model', settings.modelName);
  add('model hash', settings.modelHash);
  add('model family', settings.modelFamily);
  add('LoRAs', settings.loras?.map((lora) => `${lora.name}${lora.weight === undefined ? '' : `:${lora.weight}`}${lora.hash ? ` [${lora.hash}]` : ''}`).join(', '));
  for (const [key, value] of Object.entries(settings.other)) add(key, value);
  const width = Math.max(...rows.map(([label]) => label.length));
  const indent = ' '.repeat(width + 4);
  const lines = [`${file}: ${toolName(settings)} (${info!.format.toUpperCase()}${info!.pixelWidth === undefined ? '' : `, ${info!.pixelWidth}x${info!.pixelHeight} pixels`})`];
  for (const [label, value] of rows) lines.push(`  ${label.padEnd(width)}  ${value.split('\n').join(`\n${indent}`)}`);
  for (const problem of info!.problems) lines.push(`  note: ${problem}`);
  if (raw) {
    lines.push('  raw metadata:');
    for (const chunk of info!.chunks) lines.push(`    [${chunk.container}] ${chunk.key}: ${chunk.text.split('\n').join('\n      ')}`);
  }
  return lines.join('\n');
}

export const infoCommand: CliCommand = {
  name: 'info',
  summary: 'Show the generation settings an image carries (PNG, JPEG, WebP; any popular generator)',
  usage: 'afa info <image…> [--raw] [--json]',
  description: [
    'Reads how each image was made from its metadata: the tool that wrote it, the prompt and negative',
    'prompt, seed, steps, sampler and scheduler, CFG, size (as set, not the pixels), model name and hash,',
    'LoRAs, and every other key the tool recorded. Reads PNG text chunks, JPEG and WebP EXIF and XMP, as',
    'written by AUTOMATIC1111, Forge, SD.Next, Stability Matrix, ComfyUI, InvokeAI, NovelAI, Fooocus,',
    'RuinedFooocus, SwarmUI, Draw Things, DiffusionBee and AFA Studio. Seeds beyond 2^53 are shown exactly.',
    'Exits with 2 when a file carries no settings (the message says what it holds), after reporting the others.',
    'With --json: one file gives { ok, file, tool, settings, other, chunks, problems }; several give',
    '{ ok, images: [ … ] } with one such object per file.',
  ].join('\n'),
  options: [{ name: 'raw', kind: 'flag', description: 'also print every metadata text as found (PNG chunks, EXIF tags, XMP)' }],
  examples: ['afa info image.png', 'afa info *.png *.jpg --raw', 'afa info image.webp --json | jq .settings.seed'],
  async run(args, context) {
    if (args.positionals.length === 0) throw new UserError('invalid-argument', 'afa info needs at least one image.', "Example: afa info image.png");
    const reports = args.positionals.map(report);
    const failed = reports.some((entry) => entry.error !== undefined);
    if (context.json) {
      const files = reports.map(fileJson);
      const document = files.length === 1 ? { ok: !failed, ...files[0]! } : { ok: !failed, images: files };
      context.io.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      return failed ? EXIT_BAD_INPUT : EXIT_OK;
    }
    const shown: string[] = [];
    for (const entry of reports) {
      if (entry.error) context.io.stderr.write(`${entry.error}\n`);
      else shown.push(textReport(entry, args.flag('raw')));
    }
    if (shown.length > 0) context.io.stdout.write(`${shown.join('\n\n')}\n`);
    return failed ? EXIT_BAD_INPUT : EXIT_OK;
  },
};
