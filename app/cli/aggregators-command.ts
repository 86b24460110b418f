// `afa aggregators [list] | import <folder> --models a,b,c`: trained SABW aggregator sets, bound to the
// experts they were trained for (the official AFA training output or the studio's own format).
import { UserError } from '../common/errors.ts';
import { Library } from '../library/library.ts';
import type { CliCommand } from './cli-command.ts';
import { EXIT_OK } from './exit-codes.ts';
import { findModel } from './model-reference.ts';
import { aggregatorFor } from './recipe-options.ts';

export const aggregatorsCommand: CliCommand = {
  name: 'aggregators',
  setsUpDemo: true,
  writesHome: true,
  summary: 'List or import trained AFA aggregator sets',
  usage: 'afa aggregators [list] | afa aggregators import <folder> --models a,b,c',
  description: [
    'AFA needs aggregators trained for its exact experts, in order. `import` checks a folder (the official',
    'training code’s aggregator_0 … aggregator_24, or the studio’s aggregators.json + .safetensors) against',
    'the models given with --models and copies it into the studio, recording those experts.',
  ].join('\n'),
  options: [{ name: 'models', kind: 'string', value: '<a,b,c>', description: 'The experts the aggregators were trained for, in order' }],
  examples: ['afa aggregators import ./afa-output --models dreamshaper,realistic,anything', 'afa aggregators --json'],
  async run(args, context) {
    const [action = 'list', folder] = args.positionals;
    if (action === 'import') {
      if (!folder) throw new UserError('invalid-argument', 'afa aggregators import needs the folder to import.');
      const models = (args.string('models') ?? '').split(',').map((part) => part.trim()).filter(Boolean);
      if (models.length < 2) throw new UserError('invalid-argument', 'Name the 2–6 experts the aggregators were trained for with --models a,b,c (in order).');
      const id = aggregatorFor(folder, models.map((reference) => findModel(context.home, reference).id), context.home);
      context.io.stdout.write(context.json ? `${JSON.stringify({ ok: true, id }, null, 2)}\n` : `Imported aggregators ${id}.\n`);
      return EXIT_OK;
    }
    if (action !== 'list') throw new UserError('invalid-argument', `Unknown action '${action}'.`, 'Use `afa aggregators list` or `afa aggregators import <folder> --models a,b,c`.');
    const library = Library.open({ home: context.home });
    try {
      const sets = library.aggregators.list();
      if (context.json) context.io.stdout.write(`${JSON.stringify({ ok: true, aggregators: sets }, null, 2)}\n`);
      else context.io.stdout.write(sets.length === 0 ? 'No aggregator sets imported yet.\n' : `${sets.map((s) => `${s.id}  ${s.name}  (${s.expertHashes.length} experts)`).join('\n')}\n`);
      return EXIT_OK;
    } finally {
      library.close();
    }
  },
};
