// How a queued generation ended, for tests that enqueue through the services: its finish or its failure.
import type { GenerationFinished, JobFailed } from '../../app/api/contract.ts';
import type { StudioServices } from '../../app/api/services.ts';

export function generationOutcome(services: StudioServices, jobId: string): Promise<GenerationFinished | JobFailed> {
  return new Promise((resolve) => {
    const finish = services.generation.onDidFinish((event) => event.jobId === jobId && done(event));
    const fail = services.generation.onDidFail((event) => event.jobId === jobId && done(event));
    const done = (event: GenerationFinished | JobFailed) => {
      finish();
      fail();
      resolve(event);
    };
  });
}
