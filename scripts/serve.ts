// `npm run serve`: web mode from a checkout (after `npm run build:renderer`). See app/server/serve-command.ts.
import { serveCommand } from '../app/server/serve-command.ts';

process.exitCode = await serveCommand(process.argv.slice(2));
