// Whether the Vulkan loader (libvulkan.so.1) can be found on Linux. onnxruntime-node's WebGPU provider
// is Dawn over Vulkan there; on a machine without the loader, opening a WebGPU session fails, and Dawn
// first prints "Couldn't load Vulkan: libvulkan.so.1 …" straight to the process's stderr (native output
// the engine log cannot catch). The probe (backend-probe.ts) asks here first and reports the missing
// loader itself, so the user's terminal stays clean and the reason says what to install.
//
// The search follows the dynamic loader's for a dlopen by name: LD_LIBRARY_PATH, the ld.so cache,
// then the default folders (with Debian's multiarch folders). A loader reachable only through a
// library's RUNPATH is not seen; no Linux distribution ships one that way.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const VULKAN_LOADER = 'libvulkan.so.1';

/** What is missing and what to install: the probe's reason and a WebGPU session's error end with it. */
export const NO_VULKAN_LOADER = `the Vulkan loader (${VULKAN_LOADER}) is not installed. Install your distribution's Vulkan loader (Debian and Ubuntu: libvulkan1) and your GPU's Vulkan driver.`;

export interface LoaderSearch {
  readonly env?: NodeJS.ProcessEnv;
  readonly platform?: NodeJS.Platform;
  readonly arch?: string;
  /** The ld.so cache; default /etc/ld.so.cache. */
  readonly cacheFile?: string;
  /** Folders searched after the cache; default the system's (below). */
  readonly defaultDirs?: readonly string[];
}

const MULTIARCH: Readonly<Record<string, string>> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf' };

function systemDirs(arch: string): string[] {
  const triplet = MULTIARCH[arch];
  return [...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : []), '/lib64', '/usr/lib64', '/lib', '/usr/lib'];
}

/** This process's answer: the dynamic loader reads LD_LIBRARY_PATH once, at start, so it cannot change. */
let foundHere: boolean | undefined;

/**
 * True where WebGPU has a Vulkan loader to open: always off Linux (Dawn uses D3D12 or Metal there).
 * Without `search`, this process's answer, looked up once.
 */
export function vulkanLoaderFound(search?: LoaderSearch): boolean {
  if (search === undefined) return (foundHere ??= searchLoader({}));
  return searchLoader(search);
}

function searchLoader(search: LoaderSearch): boolean {
  const platform = search.platform ?? process.platform;
  if (platform !== 'linux') return true;
  const env = search.env ?? process.env;
  const inDirs = (dirs: readonly string[]) => dirs.some((dir) => dir.length > 0 && existsSync(join(dir, VULKAN_LOADER)));
  if (inDirs((env.LD_LIBRARY_PATH ?? '').split(':'))) return true;
  try {
    // The cache lists every library name it knows as a NUL-terminated string.
    if (readFileSync(search.cacheFile ?? '/etc/ld.so.cache').includes(`${VULKAN_LOADER}\0`)) return true;
  } catch {
    // No cache (some minimal or non-glibc systems): the folders decide.
  }
  return inDirs(search.defaultDirs ?? systemDirs(search.arch ?? process.arch));
}
