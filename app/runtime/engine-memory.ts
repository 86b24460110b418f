// The engine process's malloc settings, two glibc tunables (read from GLIBC_TUNABLES only when a process
// starts, so they are set for the engine process the studio starts: web mode's fork, the desktop app's
// utility process). Other platforms and C libraries ignore them. Measured by `npm run bench -- load`
// (docs in bench/load.ts).
//
// - `glibc.malloc.hugetlb=1`: a model load fills gigabytes of fresh memory (weights copied or prepacked
//   into onnxruntime's buffers) and a step touches large activation buffers; on Linux with transparent
//   huge pages in `madvise` mode (the default of most distributions) glibc backs its large allocations
//   with 4 KiB pages unless told otherwise, so each GB costs ~262k page faults. With the tunable (glibc
//   ≥ 2.35) glibc madvises its mmapped chunks for huge pages.
// - `glibc.malloc.mmap_threshold=1048576`: by default glibc raises its mmap threshold (up to 32 MiB on
//   64-bit) each time a mapped chunk is freed, so after the first freed weight copy the next tens-of-MB
//   buffers come from the heap, and the holes they leave when freed stay resident. Compiling a model's
//   optimized graph (optimized-models.ts) makes such a temporary copy of every weight it transforms:
//   the first load of an SD1.5 U-Net peaked at 1.13 × its weights with the dynamic threshold and at
//   1.09 × with a fixed 1 MiB one (3 runs each, alternated); warm loads and step times did not change.
//   A fixed threshold also turns off the adjustment, so every buffer of 1 MiB or more is a mapping of
//   its own, returned to the system when freed.
export const GLIBC_TUNABLES = 'GLIBC_TUNABLES';
export const HUGE_PAGES_TUNABLE = 'glibc.malloc.hugetlb';
export const MMAP_THRESHOLD_TUNABLE = 'glibc.malloc.mmap_threshold';
export const MMAP_THRESHOLD_BYTES = 1 << 20;

/**
 * `env` with the engine's malloc tunables added to GLIBC_TUNABLES (colon-separated `name=value` pairs)
 * on Linux; a value the user set for either is kept, as are their other tunables. `AFA_HUGE_PAGES=0`
 * leaves out the huge-page tunable, `AFA_MALLOC_TUNING=0` both.
 */
export function engineMemoryEnvironment(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv {
  if (platform !== 'linux' || env.AFA_MALLOC_TUNING === '0') return env;
  const given = env[GLIBC_TUNABLES] ?? '';
  const pairs = given.split(':').filter((pair) => pair.length > 0);
  const named = new Set(pairs.map((pair) => pair.split('=')[0]));
  const added = [
    ...(env.AFA_HUGE_PAGES === '0' || named.has(HUGE_PAGES_TUNABLE) ? [] : [`${HUGE_PAGES_TUNABLE}=1`]),
    ...(named.has(MMAP_THRESHOLD_TUNABLE) ? [] : [`${MMAP_THRESHOLD_TUNABLE}=${MMAP_THRESHOLD_BYTES}`]),
  ];
  if (added.length === 0) return env;
  return { ...env, [GLIBC_TUNABLES]: [...pairs, ...added].join(':') };
}
