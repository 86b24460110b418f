// Compiles each golden model folder at most once per process (the golden runner runs its cases one after
// another in one process, and the model tests reuse the same models). Files go to one temporary folder
// removed when the process exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileComponent, type CompiledComponent, type ComponentSpec } from '../../app/models/compile-component.ts';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig, type UnetConfig } from '../../app/models/unet-config.ts';
import { parseClipTextConfig } from '../../app/models/clip-text-config.ts';
import { parseVaeConfig } from '../../app/models/vae-config.ts';
import type { StoredFloat } from '../../app/onnx/graph.ts';
import type { SessionOptions } from '../../app/runtime/onnx-runtime.ts';

let root: string | undefined;
const cache = new Map<string, Promise<CompiledComponent>>();

function scratchRoot(): string {
  if (!root) {
    const dir = mkdtempSync(join(tmpdir(), 'afa-models-'));
    root = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return root;
}

function compileOnce(name: string, spec: () => ComponentSpec, session: SessionOptions, computeDtype: StoredFloat): Promise<CompiledComponent> {
  const key = `${session.backend ?? 'cpu'}:${computeDtype}:${name}`;
  let compiled = cache.get(key);
  if (!compiled) {
    compiled = compileComponent({ ...spec(), computeDtype }, join(scratchRoot(), `model-${cache.size}`), { session });
    cache.set(key, compiled);
  }
  return compiled;
}

export type UnetShape = 'whole' | 'layers';

/**
 * Sessions open on `session.backend` (default cpu), graphs computing in `computeDtype` (default
 * float32); each backend and dtype gets its own compiled copy.
 */
export function compiledUnet(folder: string, shape: UnetShape, session: SessionOptions = {}, computeDtype: StoredFloat = 'float32'): Promise<CompiledComponent> {
  return compileOnce(`unet:${shape}:${folder}`, () => {
    const { config, weights } = openDiffusersComponent(folder, parseUnetConfig);
    return { kind: 'unet', config, weights, shapes: [shape] };
  }, session, computeDtype);
}

export function unetConfigOf(folder: string): UnetConfig {
  const component = openDiffusersComponent(folder, parseUnetConfig);
  component.close();
  return component.config;
}

export function compiledTextEncoder(folder: string, session: SessionOptions = {}, computeDtype: StoredFloat = 'float32'): Promise<CompiledComponent> {
  return compileOnce(`text-encoder:${folder}`, () => {
    const { config, weights } = openDiffusersComponent(folder, parseClipTextConfig);
    return { kind: 'text-encoder', config, weights };
  }, session, computeDtype);
}

export function compiledVae(folder: string, part: 'decoder' | 'encoder', session: SessionOptions = {}, computeDtype: StoredFloat = 'float32'): Promise<CompiledComponent> {
  return compileOnce(`vae-${part}:${folder}`, () => {
    const { config, weights } = openDiffusersComponent(folder, parseVaeConfig);
    return { kind: part === 'decoder' ? 'vae-decoder' : 'vae-encoder', config, weights };
  }, session, computeDtype);
}
