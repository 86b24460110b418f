// A WebGPU adapter on a machine without a GPU: Debian's chromium package ships SwiftShader's Vulkan
// driver (a CPU rasterizer) with its own Vulkan loader. Pointing the Vulkan loader at its ICD file and
// putting chromium's folder on the library path lets onnxruntime-node's WebGPU provider (Dawn over
// Vulkan) find an adapter. It is slow and only good for correctness: the golden runner uses it when
// asked for `--backend webgpu` on a machine that has no adapter of its own. Both variables must be set
// before the process starts (the dynamic loader reads LD_LIBRARY_PATH once), so callers spawn a child.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';

/** Where Debian's chromium package (CI's .ci/run installs it) keeps SwiftShader's Vulkan ICD. */
export const SWIFTSHADER_ICD_FILES: readonly string[] = ['/usr/lib/chromium/vk_swiftshader_icd.json'];

/** Set in a child spawned with the software adapter, so it never spawns another. */
export const SOFTWARE_ADAPTER_MARK = 'AFA_SOFTWARE_ADAPTER';

/** The ICD file found on this machine, if any. */
export function findSoftwareAdapter(): string | undefined {
  return SWIFTSHADER_ICD_FILES.find((file) => existsSync(file));
}

/**
 * `base` plus what the Vulkan loader needs to find SwiftShader, or undefined when it is not installed.
 * The ICD's own folder goes first on LD_LIBRARY_PATH: it holds libvk_swiftshader.so and the
 * libvulkan.so.1 loader Dawn opens.
 */
export function softwareAdapterEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv | undefined {
  const icd = findSoftwareAdapter();
  if (!icd) return undefined;
  const libraries = [dirname(icd), ...(base.LD_LIBRARY_PATH ? [base.LD_LIBRARY_PATH] : [])].join(':');
  return { ...base, VK_ICD_FILENAMES: icd, LD_LIBRARY_PATH: libraries, [SOFTWARE_ADAPTER_MARK]: icd };
}
