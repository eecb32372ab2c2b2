// Timing helpers shared by benchmarks (completion is always awaited inside the timed window), and
// the name of the hardware a row was measured on.
import type { Backend } from "../engine/backend.ts";

/**
 * Median of a list.
 */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times `trials` runs of an async body and returns the median milliseconds.
 * @param body Work whose promise settles when the device is done.
 * @param trials Number of timed runs (after one warm-up).
 * @returns Median wall time in ms.
 */
export async function timeMs(body: () => Promise<void>, trials: number): Promise<number> {
  await body();
  const times: number[] = [];
  for (let i = 0; i < trials; i++) {
    const t0 = performance.now();
    await body();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * What a result row names as the hardware: the WebGPU adapter, or "cpu (float64 reference)".
 * @param backend Where the engine ran.
 */
export function cardOf(backend: Backend): string {
  return backend.kind === "webgpu" ? backend.adapter : "cpu (float64 reference)";
}
