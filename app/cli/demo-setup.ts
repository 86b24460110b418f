// The CLI's part of the built-in demo: the first command that lists or uses models on a home that wants
// the demo (a new, empty one) sets it up first, in the foreground with progress on stderr — a command
// ends when its work is done, so there is no background to run it in. The desktop app and `afa serve`
// do the same in the background (app/api/demo-service.ts). AFA_STUDIO_DEMO_PACK picks another pack or
// `none` (app/demo/demo-pack-location.ts); a build without a pack skips this.
import { existsSync } from 'node:fs';
import { CancelledError } from '../common/errors.ts';
import { studioPaths } from '../common/paths.ts';
import { homeWantsDemo, installDemoPack } from '../demo/demo-install.ts';
import { demoPackDirectory } from '../demo/demo-pack-location.ts';
import { Library } from '../library/library.ts';
import type { CliIo } from './cli-io.ts';
import { ProgressReporter, progressModeOf } from './progress-reporter.ts';

/**
 * Sets up the demo on `home` when it wants it and there is a pack. Never fails the command it runs
 * before: a problem is said on stderr (the next command tries again). Ctrl+C cancels it (exit 130).
 */
export async function setUpDemoIfWanted(home: string, io: CliIo): Promise<void> {
  const packDir = demoPackDirectory(io.env);
  if (!packDir || !existsSync(packDir)) return;
  let library: Library;
  try {
    library = Library.open({ home });
  } catch {
    // The command itself will say what is wrong with the home.
    return;
  }
  try {
    if (!homeWantsDemo(library)) return;
    const progress = new ProgressReporter(io.stderr, progressModeOf(undefined, io.stderr));
    progress.note(`Setting up the demo models in ${studioPaths(home).home} (first start; once)…`);
    try {
      const result = await installDemoPack(home, packDir, {
        signal: io.interrupt,
        onProgress: (event) => progress.update({ label: event.message ?? 'Setting up the demo models', done: event.done, total: event.total, event: { event: 'demo', ...event } }),
      }, { library });
      progress.note(`The demo is ready: ${result.models.length} models${result.recipeId ? ' and the recipe' : ''} (marked demo in \`afa models\`).`);
    } catch (error) {
      progress.finish();
      if (error instanceof CancelledError) throw error;
      io.stderr.write(`afa: the demo models could not be set up (the next command tries again): ${error instanceof Error ? error.message : String(error)}\n`);
    }
  } finally {
    library.close();
  }
}
