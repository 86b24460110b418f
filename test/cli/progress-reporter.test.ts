import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../app/common/errors.ts';
import { formatDuration, progressModeOf, ProgressReporter } from '../../app/cli/progress-reporter.ts';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, columns: 60, chunks, write: (text: string) => chunks.push(text) };
}

const steps = (reporter: ProgressReporter, total: number) => {
  for (let done = 1; done <= total; done++) reporter.update({ label: 'Denoising', done, total, event: { step: done } });
};

test('the mode defaults to a bar on a terminal and to lines elsewhere; unknown modes are refused', () => {
  assert.equal(progressModeOf(undefined, sink(true)), 'bar');
  assert.equal(progressModeOf(undefined, sink(false)), 'lines');
  assert.equal(progressModeOf('json', sink(true)), 'json');
  assert.throws(() => progressModeOf('fancy', sink(true)), UserError);
});

test('lines mode prints a line per phase and per tenth; json mode one object per update', () => {
  const lines = sink(false);
  const reporter = new ProgressReporter(lines, 'lines');
  reporter.update({ label: 'Encoding', done: 0, total: 50, event: {} });
  steps(reporter, 50);
  // The new phase's first step, then each tenth reached (5, 10, … 50).
  assert.deepEqual(lines.chunks, ['Encoding 0/50\n', 'Denoising 1/50\n', ...[5, 10, 15, 20, 25, 30, 35, 40, 45, 50].map((done) => `Denoising ${done}/50\n`)]);
  const json = sink(false);
  steps(new ProgressReporter(json, 'json'), 3);
  assert.deepEqual(json.chunks, ['{"step":1}\n', '{"step":2}\n', '{"step":3}\n']);
  const none = sink(false);
  steps(new ProgressReporter(none, 'none'), 3);
  assert.deepEqual(none.chunks, []);
});

test('bar mode redraws one line in place, fits the terminal width and ends it before notes', () => {
  const terminal = sink(true);
  const reporter = new ProgressReporter(terminal, 'bar');
  reporter.update({ label: 'Denoising', done: 5, total: 10, detail: 'x'.repeat(100), event: {} });
  const [line] = terminal.chunks;
  assert.ok(line!.startsWith('\r\u001b[KDenoising [############............] 5/10'));
  assert.equal(line!.length - '\r\u001b[K'.length, 59);
  reporter.note('Saved.');
  assert.deepEqual(terminal.chunks.slice(1), ['\n', 'Saved.\n']);
});

test('durations read naturally', () => {
  assert.equal(formatDuration(12_400), '12 s');
  assert.equal(formatDuration(185_000), '3 min 05 s');
});
