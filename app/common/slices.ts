// Long host-side loops of the engine (a decoded image's pixels, a PNG's scanlines, a thumbnail's passes)
// run in slices with a turn of the event loop between them, so the engine process answers API calls and
// sees a cancel while a large image is converted and saved: a 2048² image took 4.3 s in one piece on two
// cores (to RGB 0.75 s, PNG 2.5 s, thumbnail 1.05 s).

/** Pixels per slice: 64 K take 10–60 ms in the loops above on a loaded two-core machine. */
export const pixelsPerSlice = 64 * 1024;

/** Runs `run(from, to)` over [0, count) in slices of `perSlice`, yielding to the event loop between them. */
export async function inSlices(count: number, perSlice: number, run: (from: number, to: number) => void): Promise<void> {
  const size = Math.max(1, Math.floor(perSlice));
  for (let from = 0; from < count; from += size) {
    if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    run(from, Math.min(count, from + size));
  }
}
