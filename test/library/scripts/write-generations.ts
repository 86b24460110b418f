// Child process for the robustness tests: records generations in a loop and prints "committed <id>"
// after each commit, so the parent knows exactly which rows must survive a SIGKILL.
// Usage: node --import tsx write-generations.ts <home> <count|forever> <first seed>
import { Library } from '../../../app/library/library.ts';

const [home, countArgument, seedArgument] = process.argv.slice(2);
const count = countArgument === 'forever' ? Infinity : Number(countArgument);
const firstSeed = Number(seedArgument ?? 0);
const library = Library.open({ home });
const size = 96;
for (let i = 0; i < count; i++) {
  const data = new Uint8Array(size * size * 3);
  let state = firstSeed + i + 1;
  for (let j = 0; j < data.length; j++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[j] = state >>> 24; // noise: the PNG stays ~28 kB, so writes take a while
  }
  const row = library.recordGeneration({
    settings: {
      prompt: `robustness writer ${firstSeed} image ${i}`,
      negativePrompt: '',
      seed: firstSeed + i,
      steps: 20,
      guidance: 7,
      sampler: 'ddim',
      width: size,
      height: size,
      batchIndex: 0,
      recipe: { recipeId: null, name: null, method: 'single', members: [{ modelId: null, shortHash: null, name: 'test' }], aggregatorId: null },
    },
    image: { width: size, height: size, channels: 3, data },
  });
  // Synchronous on Linux pipes: the line is out before the next write starts.
  process.stdout.write(`committed ${row.id}\n`);
}
library.close();
