// Golden kind 'tokenizer': the CLIP tokenizer folder named by `model.tokenizer` encodes each prompt with
// padding to max_length and truncation (transformers CLIPTokenizer with ftfy 6.1.1). The case's params
// (max_length, bos/eos/pad ids) are checked against the folder's own configuration first, so a mismatch
// is reported as such rather than as wrong ids. Only the outputs the case lists are returned
// (clip_tiny lists input_ids alone); the no-ftfy and openai/CLIP variants are reference_only.
import type { CaseContext, CaseKind, CaseOutput, ManifestEntry } from '../case-kind.ts';
import { int64 } from '../../../app/tensor/tensor.ts';
import { ClipTokenizer } from '../../../app/tokenizer/clip-tokenizer.ts';
import type { ClipTokenizerConfig } from '../../../app/tokenizer/clip-tokenizer.ts';

const PARAM_TO_CONFIG: Readonly<Record<string, keyof ClipTokenizerConfig>> = {
  max_length: 'maxLength',
  bos_id: 'bosTokenId',
  eos_id: 'eosTokenId',
  pad_id: 'padTokenId',
};

/**
 * The prompts an input entry selects. clip_tiny selects `[0:20].text`, a slice the runner's JSONPath
 * subset does not read (yet): such a path is read as `[*].text` and sliced here.
 */
function readPrompts(entry: ManifestEntry, context: CaseContext): string[] {
  const slice = /^\$?\[(\d*):(\d*)\](.*)$/.exec(entry.json_path ?? '');
  let prompts = context.readJson(slice ? { ...entry, json_path: `[*]${slice[3]}` } : entry);
  if (slice && Array.isArray(prompts)) {
    prompts = prompts.slice(slice[1] === '' ? 0 : Number(slice[1]), slice[2] === '' ? undefined : Number(slice[2]));
  }
  if (!Array.isArray(prompts) || !prompts.every((prompt) => typeof prompt === 'string')) {
    throw new Error(`inputs.prompts (${entry.json_path}) must select a list of strings`);
  }
  return prompts;
}

const tokenizer: CaseKind = {
  kind: 'tokenizer',
  async run(testCase, context) {
    const params = testCase.params ?? {};
    if (params.padding !== undefined && params.padding !== 'max_length') throw new Error(`unsupported padding ${String(params.padding)}`);
    if (params.truncation !== undefined && params.truncation !== true) throw new Error('only truncation=true is supported');
    const clip = ClipTokenizer.fromDiffusersFolder(context.resolve(String(testCase.model?.tokenizer)));
    for (const [param, field] of Object.entries(PARAM_TO_CONFIG)) {
      if (params[param] !== undefined && params[param] !== clip.config[field]) {
        throw new Error(`case expects ${param}=${String(params[param])}, the tokenizer folder gives ${String(clip.config[field])}`);
      }
    }
    const encodings = readPrompts(testCase.inputs!.prompts, context).map((prompt) => clip.encode(prompt));
    const length = clip.config.maxLength;
    const all: Record<string, CaseOutput> = {
      input_ids: int64([encodings.length, length], encodings.flatMap((encoding) => encoding.inputIds)),
      attention_mask: int64([encodings.length, length], encodings.flatMap((encoding) => encoding.attentionMask)),
      untruncated_length: int64([encodings.length], encodings.map((encoding) => encoding.untruncatedLength)),
    };
    return Object.fromEntries(Object.entries(all).filter(([name]) => name in testCase.outputs));
  },
};

export const kinds: CaseKind[] = [tokenizer];
