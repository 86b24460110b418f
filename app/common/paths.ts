// Where the studio keeps its data. AFA_STUDIO_HOME overrides the default (tests and the CLI use it);
// the Electron shell passes its own userData directory explicitly.
import { homedir, platform } from 'node:os';
import { join } from 'node:path';

export function defaultStudioHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AFA_STUDIO_HOME) return env.AFA_STUDIO_HOME;
  const home = homedir();
  switch (platform()) {
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'AFA Studio');
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'AFA Studio');
    default:
      return join(env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'afa-studio');
  }
}

/** The fixed layout below the studio home. */
export function studioPaths(home: string) {
  return {
    home,
    database: join(home, 'library.sqlite'),
    models: join(home, 'models'),
    aggregators: join(home, 'aggregators'),
    images: join(home, 'images'),
    thumbnails: join(home, 'thumbnails'),
    trash: join(home, 'trash'),
    compiled: join(home, 'compiled'),
    /** onnxruntime's optimized graphs of the models in use (app/runtime/optimized-models.ts); safe to delete. */
    optimizedModels: join(home, 'optimized-models'),
    temp: join(home, 'tmp'),
  } as const;
}
