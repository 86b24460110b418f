// Runs installDemoPack in a process of its own for the test that kills an install. At the 20th progress
// event of the second expert's import (mid-conversion: its temporary folder holds a half-written file) it
// says so on stdout and blocks on stdin, so the parent's SIGKILL lands exactly there. Not a test file.
// Usage: node --import tsx test/demo/install-child.ts <home> <pack>
import { readSync } from 'node:fs';
import { installDemoPack } from '../../app/demo/demo-install.ts';

const [home, pack] = process.argv.slice(2);
if (!home || !pack) throw new Error('usage: install-child.ts <home> <pack>');
let seen = 0;
await installDemoPack(home, pack, {
  onProgress: (progress) => {
    if (!/\(2 of 3/.test(progress.message ?? '') || progress.done === 0 || ++seen !== 20) return;
    process.stdout.write('stopped\n');
    // The parent never writes: this waits until the process is killed.
    readSync(0, Buffer.alloc(1));
  },
});
process.stdout.write('finished\n');
