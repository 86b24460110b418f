// The generation engine the CLI runs jobs on. Targets other than single models plug in here:
// app/ensemble adds `engine.registerTarget('recipe', ...)` below (see app/cli/README.md).
import type { Library } from '../library/library.ts';
import { GenerationEngine } from '../pipeline/generation-engine.ts';
import type { ModelRuntime } from '../pipeline/model-runtime.ts';

export function createCliEngine(library: Library, runtime: ModelRuntime): GenerationEngine {
  // No previews: a terminal cannot show them, and they cost a PNG encode per shown step.
  return new GenerationEngine({ library, runtime, previewEvery: 0 });
}
