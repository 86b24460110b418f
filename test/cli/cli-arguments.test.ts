import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../app/common/errors.ts';
import { parseArguments, type OptionSpec } from '../../app/cli/cli-arguments.ts';

const SPECS: readonly OptionSpec[] = [
  { name: 'prompt', short: 'p', kind: 'string', description: '' },
  { name: 'steps', kind: 'integer', description: '' },
  { name: 'cfg', kind: 'number', description: '' },
  { name: 'json', kind: 'flag', description: '' },
  { name: 'tag', kind: 'string', repeatable: true, description: '' },
];

function refusal(argv: string[]): string {
  try {
    parseArguments(argv, SPECS, 'generate');
  } catch (error) {
    assert.ok(error instanceof UserError);
    assert.equal(error.code, 'invalid-argument');
    return error.message;
  }
  assert.fail('accepted');
}

test('long, short and inline values, flags, repeatable options and positionals anywhere', () => {
  const args = parseArguments(['in.png', '-p', 'a cat', '--steps=30', '--cfg', '-1.5', '--json', '--tag', 'a', '--tag=b', '--', '--not-an-option'], SPECS, 'generate');
  assert.equal(args.string('prompt'), 'a cat');
  assert.equal(args.number('steps'), 30);
  assert.equal(args.number('cfg'), -1.5);
  assert.equal(args.flag('json'), true);
  assert.deepEqual(args.strings('tag'), ['a', 'b']);
  assert.deepEqual(args.positionals, ['in.png', '--not-an-option']);
  assert.equal(args.has('seed'), false);
  assert.equal(args.string('missing'), undefined);
});

test('mistakes are usage errors that name the option and point at the help', () => {
  assert.match(refusal(['--stepz', '3']), /^Unknown option --stepz for 'afa generate'\. Run 'afa generate --help' for the options\.$/);
  assert.match(refusal(['-x']), /Unknown option -x/);
  assert.match(refusal(['--steps', '2.5']), /--steps needs a whole number, got '2\.5'/);
  assert.match(refusal(['--cfg', 'high']), /--cfg needs a number, got 'high'/);
  assert.match(refusal(['--cfg', '']), /--cfg needs a number/);
  assert.match(refusal(['--prompt']), /--prompt needs a value/);
  assert.match(refusal(['--prompt', '--json']), /--prompt needs a value/);
  assert.match(refusal(['--json=yes']), /--json takes no value/);
  assert.match(refusal(['--steps', '2', '--steps', '3']), /--steps is given twice/);
});
