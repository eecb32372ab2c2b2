// Shared WebGPU handle for tests: one device for the whole run; GPU tests are skipped, visibly,
// when no adapter exists.
import { type Backend, CPU, type GpuBackend, tryWebGpu } from "../engine/backend.ts";

/** The WebGPU backend, or null when this machine has no adapter. */
export const gpu: GpuBackend | null = await tryWebGpu();

let skipped = 0;
globalThis.addEventListener("unload", () => {
  if (skipped > 0) console.log(`No WebGPU adapter: ${skipped} GPU tests skipped`);
});

/**
 * Registers a test that needs WebGPU (ignored, and counted as skipped, without an adapter).
 * @param fn Body, given the backend.
 */
export function gpuTest(name: string, fn: (gpu: GpuBackend) => Promise<void> | void): void {
  if (gpu === null) skipped++;
  Deno.test({
    name,
    ignore: gpu === null,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => fn(gpu!),
  });
}

/**
 * Registers the same test on the float64 CPU reference and (as `name … on WebGPU`) on WebGPU.
 * @param fn Body, given the backend (tolerances may depend on `backend.kind`).
 */
export function bothBackendsTest(name: string, fn: (backend: Backend) => Promise<void>): void {
  Deno.test(name, () => fn(CPU));
  gpuTest(`${name} on WebGPU`, fn);
}
