// Golden kinds 'unet' (whole graph: sample, timestep, text → ε) and 'unet_blocks' (the lock-step layer
// graphs run one after another; every intermediate point is checked, which validates the AFA cut).
import type { CaseContext, CaseKind, CaseOutput, ManifestCase } from '../case-kind.ts';
import type { Tensor } from '../../../app/tensor/tensor.ts';
import { unetTimestep } from '../../../app/models/unet-timestep.ts';
import { runUnetLockStep } from '../../../app/models/unet-lock-step.ts';
import { unetPointModelName } from '../../../app/models/compile-component.ts';
import { unetLayout } from '../../../app/models/unet-layout.ts';
import { compiledUnet, unetConfigOf } from '../../models/compiled-models.ts';

function unetInputs(testCase: ManifestCase, context: CaseContext) {
  const inputs = testCase.inputs ?? {};
  const sample = context.readTensor(inputs.sample) as Tensor<'float32'>;
  return {
    folder: context.resolve(String(testCase.model?.unet)),
    sample,
    timestep: unetTimestep(context.readTensor(inputs.timestep), sample.shape[0]),
    encoderHiddenStates: context.readTensor(inputs.encoder_hidden_states) as Tensor<'float32'>,
  };
}

const unet: CaseKind = {
  kind: 'unet',
  computeDtypes: ['float32', 'float16'],
  async run(testCase, context) {
    const { folder, sample, timestep, encoderHiddenStates } = unetInputs(testCase, context);
    const compiled = await compiledUnet(folder, 'whole', context.session, context.computeDtype);
    const result = await compiled.session('unet').run({ sample, timestep, encoder_hidden_states: encoderHiddenStates });
    return { noise_pred: result.noise_pred };
  },
};

const unetBlocks: CaseKind = {
  kind: 'unet_blocks',
  computeDtypes: ['float32', 'float16'],
  async run(testCase, context) {
    const { folder, sample, timestep, encoderHiddenStates } = unetInputs(testCase, context);
    const config = unetConfigOf(folder);
    const compiled = await compiledUnet(folder, 'layers', context.session, context.computeDtype);
    const outputs: Record<string, CaseOutput> = {};
    const sessions = { timeEmbedding: compiled.session('time_embedding'), points: unetLayout(config).map((p) => compiled.session(unetPointModelName(p.index))) };
    const noisePred = await runUnetLockStep(sessions, config, { sample, timestep, encoderHiddenStates }, {
      onTime: (timeProj, temb) => {
        outputs.time_proj = timeProj;
        outputs.time_embedding = temb;
      },
      onPoint: (index, feature) => {
        outputs[`point${String(index).padStart(2, '0')}`] = feature;
      },
    });
    outputs.noise_pred = noisePred;
    return outputs;
  },
};

export const kinds: CaseKind[] = [unet, unetBlocks];
