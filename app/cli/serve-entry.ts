// `afa serve` is app/server's command (web mode); this entry only gives it a place in the command table
// and a help page. It parses its own arguments (app/server/serve-command.ts parseServeArguments).
import type { CliCommand } from './cli-command.ts';

export const serveEntry: CliCommand = {
  name: 'serve',
  summary: 'Start the studio in a web browser (web mode)',
  usage: 'afa serve [--host <address>] [--port <n>] [--home <folder>]',
  description: [
    'Starts the studio’s services and serves the UI over HTTP. The printed link carries a session token;',
    'anyone with the link can use the studio. --host 0.0.0.0 makes it reachable from the local network.',
    'Press Ctrl+C to stop.',
  ].join('\n'),
  options: [
    { name: 'host', kind: 'string', value: '<address>', description: 'Address to listen on (default 127.0.0.1)' },
    { name: 'port', kind: 'integer', value: '<n>', description: 'Port (default: a free one)' },
  ],
  runRaw: async (argv) => (await import('../server/serve-command.ts')).serveCommand(argv),
  async run() {
    throw new Error('afa serve parses its own arguments (runRaw)');
  },
};
