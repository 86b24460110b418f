import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { golden } from './golden-paths.ts';
import { SD15_CONFIGS, textEncoderLayout, unetLayout, vaeLayout } from '../../app/checkpoints/component-config.ts';
import {
  MBW_BLOCKS,
  TEXT_ENCODER_LDM_PREFIX_OLD,
  mbwBlockIndex,
  mbwBlockOfLdmKey,
  textEncoderKeyMap,
  unetKeyMap,
  vaeKeyMap,
} from '../../app/checkpoints/ldm-keys.ts';

interface GoldenKeyMap {
  unet: { diffusers: string; ldm: string; mbw_block: string }[];
  vae: { diffusers: string; ldm: string; reshape: string | null }[];
  text_encoder: { diffusers: string; ldm: string }[];
}

const keyMap = JSON.parse(readFileSync(golden('models', 'single_file', 'key_map.json'), 'utf8')) as GoldenKeyMap;
const config = (component: string) => JSON.parse(readFileSync(golden('models', 'afa', component, 'config.json'), 'utf8')) as Record<string, unknown>;

function asRows<T extends { diffusers: string }>(entries: readonly T[], row: (entry: T) => string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const entry of entries) {
    assert.equal(rows.has(entry.diffusers), false, `duplicate ${entry.diffusers}`);
    rows.set(entry.diffusers, row(entry));
  }
  return rows;
}

test('UNet mapping derived from the tiny config equals diffusers conversion for every key, MBW blocks included', () => {
  const ours = asRows(unetKeyMap(unetLayout(config('unet'))), (e) => `${e.ldm} ${e.block}`);
  const theirs = asRows(keyMap.unet, (e) => `${e.ldm} ${e.mbw_block}`);
  assert.equal(ours.size, 684);
  assert.deepEqual(ours, theirs);
});

test('MBW block of every golden UNet LDM key follows the documented rule', () => {
  for (const entry of keyMap.unet) assert.equal(mbwBlockOfLdmKey(entry.ldm), entry.mbw_block, entry.ldm);
  assert.equal(mbwBlockOfLdmKey('first_stage_model.encoder.conv_in.weight'), 'base');
  assert.equal(mbwBlockOfLdmKey('cond_stage_model.transformer.text_model.final_layer_norm.weight'), 'base');
  assert.equal(MBW_BLOCKS.length, 25);
  assert.equal(mbwBlockIndex('IN00'), 0);
  assert.equal(mbwBlockIndex('M00'), 12);
  assert.equal(mbwBlockIndex('OUT11'), 24);
  assert.equal(mbwBlockIndex('base'), -1);
});

test('VAE mapping equals diffusers conversion for every key, with the 1x1-conv reshape on the mid attention weights', () => {
  const ours = asRows(vaeKeyMap(vaeLayout(config('vae'))), (e) => `${e.ldm} ${e.reshape ? 'reshape' : '-'}`);
  const theirs = asRows(keyMap.vae, (e) => `${e.ldm} ${e.reshape ? 'reshape' : '-'}`);
  assert.equal(ours.size, 244);
  assert.deepEqual(ours, theirs);
});

test('text encoder mapping equals diffusers conversion for every key; the old layout drops text_model', () => {
  const layout = textEncoderLayout(config('text_encoder'));
  assert.deepEqual(asRows(textEncoderKeyMap(layout), (e) => e.ldm), asRows(keyMap.text_encoder, (e) => e.ldm));
  const old = textEncoderKeyMap(layout, TEXT_ENCODER_LDM_PREFIX_OLD);
  assert.equal(old[0].ldm, 'cond_stage_model.transformer.embeddings.token_embedding.weight');
  assert.equal(old[0].diffusers, 'text_model.embeddings.token_embedding.weight');
});

test('SD1.5 defaults give the key counts of the released SD1.5 checkpoints (686 UNet, 248 VAE, 196 CLIP)', () => {
  // Counts of runwayml v1-5 tensors by prefix (model.diffusion_model. 686, first_stage_model. 248,
  // cond_stage_model. 197 including position_ids). SD1.5's VAE has shortcut convs in more places than the
  // tiny one because its channels change twice (128→256→512).
  assert.equal(unetKeyMap(unetLayout(SD15_CONFIGS.unet)).length, 686);
  assert.equal(vaeKeyMap(vaeLayout(SD15_CONFIGS.vae)).length, 248);
  assert.equal(textEncoderKeyMap(textEncoderLayout(SD15_CONFIGS.textEncoder)).length, 196);
});
