// Sampler names across tools. Our ids are app/schedulers' SCHEDULER_NAMES ('euler-a', 'dpmpp-2m-karras'),
// extended in the same kebab-case style for samplers other tools have; AUTOMATIC1111 writes display
// names in its infotext ("DPM++ 2M Karras", "Euler a" — modules/sd_samplers_kdiffusion.py); InvokeAI
// and ComfyUI use snake_case names of their own. Imports map what they can and keep the rest verbatim.

// [our id, AUTOMATIC1111 display name]
const A1111_NAMES: readonly (readonly [string, string])[] = [
  ['ddim', 'DDIM'],
  ['pndm', 'PLMS'],
  ['euler', 'Euler'],
  ['euler-a', 'Euler a'],
  ['lms', 'LMS'],
  ['lms-karras', 'LMS Karras'],
  ['heun', 'Heun'],
  ['dpm2', 'DPM2'],
  ['dpm2-karras', 'DPM2 Karras'],
  ['dpm2-a', 'DPM2 a'],
  ['dpm2-a-karras', 'DPM2 a Karras'],
  ['dpmpp-2s-a', 'DPM++ 2S a'],
  ['dpmpp-2s-a-karras', 'DPM++ 2S a Karras'],
  ['dpmpp-2m', 'DPM++ 2M'],
  ['dpmpp-2m-karras', 'DPM++ 2M Karras'],
  ['dpmpp-sde', 'DPM++ SDE'],
  ['dpmpp-sde-karras', 'DPM++ SDE Karras'],
  ['dpmpp-2m-sde', 'DPM++ 2M SDE'],
  ['dpmpp-2m-sde-karras', 'DPM++ 2M SDE Karras'],
  ['dpm-fast', 'DPM fast'],
  ['dpm-adaptive', 'DPM adaptive'],
  ['unipc', 'UniPC'],
  ['lcm', 'LCM'],
];

const TO_A1111 = new Map(A1111_NAMES);
const FROM_A1111 = new Map(A1111_NAMES.map(([id, name]) => [name.toLowerCase(), id]));
FROM_A1111.set('plms', 'pndm');

/** AUTOMATIC1111's display name for one of our sampler ids; unknown ids are written as they are. */
export function a1111SamplerName(sampler: string): string {
  return TO_A1111.get(sampler) ?? sampler;
}

/**
 * Our id for an AUTOMATIC1111 sampler. Since v1.9 A1111 writes the schedule separately
 * ("Sampler: DPM++ 2M, Schedule type: Karras"); both spellings map to the same id.
 */
export function samplerFromA1111(name: string, scheduleType?: string): string | undefined {
  let key = name.trim().toLowerCase();
  if (scheduleType && scheduleType.trim().toLowerCase() === 'karras' && !key.endsWith(' karras')) key += ' karras';
  return FROM_A1111.get(key);
}

// InvokeAI 3+/4 scheduler names (invokeai/backend/stable_diffusion/schedulers) and the k_* names of
// InvokeAI 2.x; '_k' marks the Karras sigma schedule.
const INVOKEAI_NAMES: ReadonlyMap<string, string> = new Map([
  ['ddim', 'ddim'],
  ['pndm', 'pndm'],
  ['plms', 'pndm'],
  ['euler', 'euler'],
  ['k_euler', 'euler'],
  ['euler_a', 'euler-a'],
  ['k_euler_a', 'euler-a'],
  ['lms', 'lms'],
  ['k_lms', 'lms'],
  ['lms_k', 'lms-karras'],
  ['heun', 'heun'],
  ['k_heun', 'heun'],
  ['kdpm_2', 'dpm2'],
  ['k_dpm_2', 'dpm2'],
  ['kdpm_2_a', 'dpm2-a'],
  ['k_dpm_2_a', 'dpm2-a'],
  ['dpmpp_2s', 'dpmpp-2s-a'],
  ['dpmpp_2s_k', 'dpmpp-2s-a-karras'],
  ['k_dpmpp_2_a', 'dpmpp-2s-a'],
  ['dpmpp_2m', 'dpmpp-2m'],
  ['k_dpmpp_2', 'dpmpp-2m'],
  ['dpmpp_2m_k', 'dpmpp-2m-karras'],
  ['dpmpp_sde', 'dpmpp-sde'],
  ['dpmpp_sde_k', 'dpmpp-sde-karras'],
  ['dpmpp_2m_sde', 'dpmpp-2m-sde'],
  ['dpmpp_2m_sde_k', 'dpmpp-2m-sde-karras'],
  ['unipc', 'unipc'],
  ['lcm', 'lcm'],
]);

export function samplerFromInvokeAi(name: string): string | undefined {
  return INVOKEAI_NAMES.get(name.trim().toLowerCase());
}

// ComfyUI's KSampler splits the sampler (comfy/samplers.py KSAMPLER_NAMES) from the sigma schedule.
const COMFYUI_NAMES: ReadonlyMap<string, string> = new Map([
  ['ddim', 'ddim'],
  ['euler', 'euler'],
  ['euler_ancestral', 'euler-a'],
  ['lms', 'lms'],
  ['heun', 'heun'],
  ['dpm_2', 'dpm2'],
  ['dpm_2_ancestral', 'dpm2-a'],
  ['dpmpp_2s_ancestral', 'dpmpp-2s-a'],
  ['dpmpp_2m', 'dpmpp-2m'],
  ['dpmpp_sde', 'dpmpp-sde'],
  ['dpmpp_2m_sde', 'dpmpp-2m-sde'],
  ['dpm_fast', 'dpm-fast'],
  ['dpm_adaptive', 'dpm-adaptive'],
  ['uni_pc', 'unipc'],
  ['lcm', 'lcm'],
]);

export function samplerFromComfyUi(samplerName: string, scheduler?: string): string | undefined {
  // "dpmpp_2m_sde_gpu" is the same sampler with its noise drawn on the GPU (comfy/k_diffusion/sampling.py).
  const id = COMFYUI_NAMES.get(samplerName.trim().toLowerCase().replace(/_gpu$/, ''));
  if (id === undefined) return undefined;
  if (scheduler?.trim().toLowerCase() !== 'karras') return id;
  const karras = `${id}-karras`;
  return TO_A1111.has(karras) ? karras : id;
}

// NovelAI's samplers (k-diffusion names with a "k_" prefix) and its noise schedules.
const NOVELAI_NAMES: ReadonlyMap<string, string> = new Map([
  ['k_euler', 'euler'],
  ['k_euler_ancestral', 'euler-a'],
  ['k_dpmpp_2s_ancestral', 'dpmpp-2s-a'],
  ['k_dpmpp_2m', 'dpmpp-2m'],
  ['k_dpmpp_sde', 'dpmpp-sde'],
  ['k_dpmpp_2m_sde', 'dpmpp-2m-sde'],
  ['k_lms', 'lms'],
  ['k_heun', 'heun'],
  ['k_dpm_2', 'dpm2'],
  ['k_dpm_2_ancestral', 'dpm2-a'],
  ['ddim', 'ddim'],
  ['ddim_v3', 'ddim'],
  ['plms', 'pndm'],
]);

export function samplerFromNovelAi(name: string, noiseSchedule?: string): string | undefined {
  const id = NOVELAI_NAMES.get(name.trim().toLowerCase());
  if (id === undefined) return undefined;
  if (noiseSchedule?.trim().toLowerCase() !== 'karras') return id;
  const karras = `${id}-karras`;
  return TO_A1111.has(karras) ? karras : id;
}
