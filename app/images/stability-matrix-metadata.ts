// Stability Matrix's Inference writes A1111's infotext to "parameters" and, beside it, its
// GenerationParameters record as JSON in "parameters-json" (System.Text.Json, property names as
// declared: "PositivePrompt", "NegativePrompt", "Steps", "Sampler", "Scheduler", "CfgScale", "Seed"
// (a ulong: up to 2^64 − 1), "Width", "Height", "ModelName", "ModelHash", …), plus the whole project in
// "smproj". Property names are matched without regard to case.
import { parseJsonObject } from './exact-json.ts';
import {
  compact,
  familyFromName,
  integerFrom,
  numberFrom,
  otherText,
  seedFrom,
  textFrom,
  type ImportedSettings,
} from './imported-settings.ts';
import { samplerFromA1111, samplerFromComfyUi } from './sampler-names.ts';

const KNOWN = new Set(['positiveprompt', 'negativeprompt', 'steps', 'sampler', 'scheduler', 'cfgscale', 'seed', 'width', 'height', 'modelname', 'modelhash']);

export function importedFromStabilityMatrix(text: ReadonlyMap<string, string>): ImportedSettings | undefined {
  const json = parseJsonObject(text.get('parameters-json'));
  if (!json) return undefined;
  const fields = new Map(Object.entries(json).map(([key, value]) => [key.toLowerCase(), value]));
  const samplerName = textFrom(fields.get('sampler'));
  const scheduler = textFrom(fields.get('scheduler'));
  const modelName = textFrom(fields.get('modelname'));
  const other: Record<string, string> = {};
  for (const [key, value] of Object.entries(json)) {
    if (KNOWN.has(key.toLowerCase())) continue;
    const textValue = otherText(value);
    if (textValue !== undefined) other[key] = textValue;
  }
  return compact({
    source: 'stability-matrix',
    prompt: textFrom(fields.get('positiveprompt')),
    negativePrompt: textFrom(fields.get('negativeprompt')),
    seed: seedFrom(fields.get('seed')),
    steps: integerFrom(fields.get('steps')),
    guidance: numberFrom(fields.get('cfgscale')),
    sampler: samplerName === undefined ? undefined : (samplerFromComfyUi(samplerName, scheduler) ?? samplerFromA1111(samplerName, scheduler) ?? samplerName),
    samplerLabel: samplerName,
    scheduler,
    width: integerFrom(fields.get('width')),
    height: integerFrom(fields.get('height')),
    modelName,
    modelHash: textFrom(fields.get('modelhash')),
    modelFamily: familyFromName(modelName),
    other,
  });
}
