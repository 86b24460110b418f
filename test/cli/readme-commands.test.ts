// The README's command-line walkthrough, run line by line as a person pastes it: `npx afa` is the real
// bin, `~` a temporary home holding the checkpoints the lines name (the golden tiny experts), and the
// working directory holds ./afa-run (the official AFA folder). Two changes keep it quick and possible:
// generations without --from get `--size 64x64 --steps 3`, and the tiny single file (not SD1.5-sized,
// so not recognisable from its tensors alone) is imported with --config-dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { goldenAfaDir, goldenExpertFolders, scratchDir } from '../ensemble/golden-experts.ts';
import { repoRoot, TINY_FOLDER, TINY_SINGLE_FILE } from '../pipeline/tiny-model.ts';

const BIN = join(repoRoot, 'bin', 'afa.js');

/** The lines of the README's first ```sh block that start with `npx afa`, comments removed. */
function readmeCommands(readme: string): string[] {
  const section = readme.slice(readme.indexOf('## The command line'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith('npx afa '));
}

test("the README's command-line walkthrough runs as written, each line exiting 0", { timeout: 300_000 }, (t) => {
  const home = scratchDir('afa-readme-');
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const [, expert2, expert3] = goldenExpertFolders(home);
  mkdirSync(join(home, 'models'));
  symlinkSync(TINY_SINGLE_FILE, join(home, 'models', 'dreamshaper_8.safetensors'));
  symlinkSync(expert2!, join(home, 'models', 'realistic_vision'));
  symlinkSync(expert3!, join(home, 'models', 'anything_v5'));
  symlinkSync(goldenAfaDir, join(home, 'afa-run'));

  const commands = readmeCommands(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
  assert.ok(commands.length >= 10, `the README lists ${commands.length} commands`);
  for (const command of commands) {
    let line = command.replace(/^npx afa /, `"${process.execPath}" "${BIN}" `);
    if (/ import \S+\.safetensors/.test(line)) line += ` --config-dir "${TINY_FOLDER}"`;
    if (/ generate /.test(line) && !line.includes('--from')) line += ' --size 64x64 --steps 3';
    const run = spawnSync('bash', ['-c', line], {
      cwd: home,
      encoding: 'utf8',
      env: { ...process.env, HOME: home, AFA_STUDIO_HOME: join(home, 'studio'), AFA_STUDIO_DEMO_PACK: 'none' },
      timeout: 120_000,
    });
    assert.equal(run.status, 0, `${command}\nexit ${run.status}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
  for (const file of ['lighthouse.png', 'blend.safetensors', 'maps']) assert.ok(existsSync(join(home, file)), `${file} was written`);
});
