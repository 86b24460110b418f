// Golden kind 'single_file_checkpoint': import an original-LDM single-file checkpoint into a scratch
// studio home (architecture from the case's `architecture_from` config, text encoder and VAE configs
// from its equivalent folders), then run the stored U-Net graph on the cases/unet inputs.
// fp16 checkpoints are upcast to the default fp32 storage at import, which is exact — the same weights
// diffusers gets from `.float()` (storing fp16 with a Cast in the graph gives the same result too; the
// checkpoint tests cover that path).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseKind, ManifestCase, CaseContext } from '../case-kind.ts';
import type { Tensor } from '../../../app/tensor/tensor.ts';
import { importCheckpoint } from '../../../app/checkpoints/import-checkpoint.ts';
import { unetTimestep } from '../../../app/models/unet-timestep.ts';
import { ModelSession } from '../../../app/runtime/onnx-runtime.ts';

function readConfig(context: CaseContext, folderOrFile: string): Record<string, unknown> {
  const path = folderOrFile.endsWith('.json') ? context.resolve(folderOrFile) : join(context.resolve(folderOrFile), 'config.json');
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

const singleFileCheckpoint: CaseKind = {
  kind: 'single_file_checkpoint',
  async run(testCase: ManifestCase, context: CaseContext) {
    const model = testCase.model ?? {};
    const imported = await importCheckpoint(context.resolve(String(model.single_file)), {
      home: join(context.scratch, 'home'),
      configOverrides: {
        unet: readConfig(context, String(model.architecture_from)),
        textEncoder: readConfig(context, String(model.equivalent_folder_text_encoder)),
        vae: readConfig(context, String(model.equivalent_folder_vae)),
      },
    });
    const inputs = testCase.inputs ?? {};
    const sample = context.readTensor(inputs.sample) as Tensor<'float32'>;
    const session = await ModelSession.create(imported.files.unet, context.session);
    try {
      const result = await session.run({
        sample,
        timestep: unetTimestep(context.readTensor(inputs.timestep), sample.shape[0]),
        encoder_hidden_states: context.readTensor(inputs.encoder_hidden_states),
      });
      // `noise_pred_equals` (same_as) is checked by the runner against the referenced case's output.
      return { noise_pred: result.noise_pred };
    } finally {
      await session.release();
    }
  },
};

export const kinds: CaseKind[] = [singleFileCheckpoint];
