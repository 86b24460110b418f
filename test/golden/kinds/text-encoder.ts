// Golden kind 'text_encoder': CLIPTextModel(input_ids) → last_hidden_state, pooler_output.
import type { CaseKind } from '../case-kind.ts';
import { compiledTextEncoder } from '../../models/compiled-models.ts';

const textEncoder: CaseKind = {
  kind: 'text_encoder',
  computeDtypes: ['float32', 'float16'],
  async run(testCase, context) {
    const compiled = await compiledTextEncoder(context.resolve(String(testCase.model?.text_encoder)), context.session, context.computeDtype);
    const inputIds = context.readTensor(testCase.inputs!.input_ids);
    const result = await compiled.session('text_encoder').run({ input_ids: inputIds });
    return { last_hidden_state: result.last_hidden_state, pooler_output: result.pooler_output };
  },
};

export const kinds: CaseKind[] = [textEncoder];
