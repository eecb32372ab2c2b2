/**
 * TensorFlow.js WebGPU backend as a benchmark peer.
 *
 * `npm:@tensorflow/tfjs-backend-webgpu@4.22.0` runs unmodified on Deno 2.9.6's built-in
 * WebGPU (wgpu/naga, here on Mesa lavapipe): importing it registers the `webgpu`
 * backend, `tf.setBackend("webgpu")` picks up `navigator.gpu`, and no globals shim is
 * needed (checked: matmul results are correct).
 *
 * @module
 */

import process from "node:process";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
// Bare names: only bench/peers/deno.json maps them, so the everyday commands (root deno.json)
// never resolve, lock or download the peers. The packages are imported only when no bundle is
// named, so a bundled peer runs under either config.
import type * as tf from "@tensorflow/tfjs-core";

let ready: Promise<typeof tf> | undefined;

/**
 * The bundled peer named by `TFJS_PEER_BUNDLE` (see `tfjs_entry.ts`), or null to load the npm
 * packages.
 * @returns An absolute path, or null.
 */
export function peerBundle(): string | null {
  const path = Deno.env.get("TFJS_PEER_BUNDLE");
  return path ? resolve(path) : null;
}

/**
 * Initialises tfjs-core with the WebGPU backend, once per process: from the bundle when
 * `TFJS_PEER_BUNDLE` is set, else from the npm packages.
 *
 * @returns The tfjs-core namespace with `webgpu` as the active backend.
 * @throws {Error} When the WebGPU backend cannot be activated (no adapter).
 */
export function initTfjsWebgpu(): Promise<typeof tf> {
  ready ??= (async () => {
    const bundle = peerBundle();
    let t: typeof tf;
    if (bundle === null) {
      t = await import("@tensorflow/tfjs-core");
      await import("@tensorflow/tfjs-backend-webgpu");
    } else t = await import(pathToFileURL(bundle).href) as typeof tf;
    const ok = await t.setBackend("webgpu");
    await t.ready();
    if (!ok || t.getBackend() !== "webgpu") {
      throw new Error(`Cannot initialise tfjs-webgpu: backend is "${t.getBackend()}"`);
    }
    return t;
  })();
  return ready;
}

/** Result of one tfjs-webgpu matmul measurement. */
export interface TfjsMatmulStats {
  /** Best GFLOP/s over the measurements. */
  gflops: number;
  /** CPU cores this process used during that best measurement (lavapipe runs in-process). */
  cores: number;
}

/**
 * Square fp32 matmul throughput of tfjs-webgpu, with the CPU share it got.
 *
 * Each measurement issues `reps` matmuls back to back (tfjs batches them into few
 * submits) and awaits `data()` of the last result, so the ≥ 11 ms readback is paid once
 * per measurement. Two warm-up matmuls compile the pipelines first. Five measurements
 * are taken and the best is kept (interference from other processes only ever slows a
 * run down).
 *
 * @param n Matrix size (C = A·B with all three n×n).
 * @param reps Matmuls per measurement; use enough that one measurement takes ≫ 11 ms.
 * @returns The best GFLOP/s and the CPU cores used during that measurement.
 */
export async function tfjsMatmulStats(n: number, reps: number): Promise<TfjsMatmulStats> {
  const t = await initTfjsWebgpu();
  const a = t.randomUniform([n, n], -1, 1, "float32");
  const b = t.randomUniform([n, n], -1, 1, "float32");
  try {
    for (let i = 0; i < 2; i++) {
      const c = t.matMul(a, b);
      await c.data();
      c.dispose();
    }
    const best: TfjsMatmulStats = { gflops: 0, cores: 0 };
    for (let r = 0; r < 5; r++) {
      const cpu0 = cpuSeconds();
      const t0 = performance.now();
      let last: tf.Tensor | undefined;
      for (let i = 0; i < reps; i++) {
        last?.dispose();
        last = t.matMul(a, b);
      }
      await last!.data();
      const ms = performance.now() - t0;
      last!.dispose();
      const g = (2 * n ** 3 * reps) / (ms * 1e6);
      if (g > best.gflops) {
        best.gflops = g;
        best.cores = (cpuSeconds() - cpu0) / (ms / 1000);
      }
    }
    return best;
  } finally {
    a.dispose();
    b.dispose();
  }
}

/**
 * Square fp32 matmul throughput of tfjs-webgpu (see {@link tfjsMatmulStats}).
 *
 * @param n Matrix size (C = A·B with all three n×n).
 * @param reps Matmuls per measurement; use enough that one measurement takes ≫ 11 ms.
 * @returns The best GFLOP/s over five measurements.
 */
export async function tfjsMatmulGflops(n: number, reps: number): Promise<number> {
  return (await tfjsMatmulStats(n, reps)).gflops;
}

/** User + system CPU seconds of this process. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
