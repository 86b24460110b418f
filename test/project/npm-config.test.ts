// npm commands in this checkout print no "Unknown project config" warning (npm 11 warns for every key of
// a project .npmrc that is not npm's own), and onnxruntime-node's install script — whose only work is
// downloading CUDA libraries on Linux x64 — is denied in package.json's allowScripts, npm's own
// install-script policy, so `npm install` stays offline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../pipeline/tiny-model.ts';

test('npm runs here without unknown-config warnings, and the CUDA download script is denied', () => {
  const run = spawnSync('npm', ['config', 'list'], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /Unknown (project|user|env) config/);
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
  assert.equal(manifest.allowScripts?.['onnxruntime-node'], false);
  assert.equal(existsSync(join(repoRoot, '.npmrc')) && /onnxruntime-node-install/.test(readFileSync(join(repoRoot, '.npmrc'), 'utf8')), false);
});
