// The engine process's malloc settings. A model load fills gigabytes of fresh memory (weights copied or
// prepacked into onnxruntime's buffers) and a step touches large activation buffers; on Linux with
// transparent huge pages in `madvise` mode (the default of most distributions) glibc backs its large
// allocations with 4 KiB pages unless told otherwise, so each GB costs ~262k page faults. glibc ≥ 2.35
// reads `glibc.malloc.hugetlb=1` from GLIBC_TUNABLES at start and then madvises its mmapped chunks for
// huge pages. The variable is read only when a process starts, so it is set for the engine process the
// studio starts (web mode's fork, the desktop app's utility process). Other platforms and C libraries
// ignore it. Measured by `npm run bench -- load` (docs in bench/load.ts).
export const GLIBC_TUNABLES = 'GLIBC_TUNABLES';
export const HUGE_PAGES_TUNABLE = 'glibc.malloc.hugetlb';

/**
 * `env` with glibc's huge-page tunable added to GLIBC_TUNABLES (colon-separated `name=value` pairs) on
 * Linux; a value the user set for it is kept, as are their other tunables. `AFA_HUGE_PAGES=0` leaves it out.
 */
export function engineMemoryEnvironment(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv {
  if (platform !== 'linux' || env.AFA_HUGE_PAGES === '0') return env;
  const given = env[GLIBC_TUNABLES] ?? '';
  const pairs = given.split(':').filter((pair) => pair.length > 0);
  if (pairs.some((pair) => pair.split('=')[0] === HUGE_PAGES_TUNABLE)) return env;
  return { ...env, [GLIBC_TUNABLES]: [...pairs, `${HUGE_PAGES_TUNABLE}=1`].join(':') };
}
