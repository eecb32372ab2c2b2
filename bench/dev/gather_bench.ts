/**
 * Timings of `embedding()` forward and of its backward (the deterministic scatter-add) on the
 * WebGPU backend. Each case records R launches of the op between two
 * `await gpu.dispatcher.sync()` calls (R chosen so a run lasts ≥ ~0.3 s, amortising the ≥ 11 ms
 * completion poll) and reports the mean per op, including the dispatch recording cost.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno run -A bench/dev/gather_bench.ts`
 * @module
 */
import { initWebGpu } from "../../engine/backend.ts";
import { empty } from "../../engine/alloc.ts";
import { fill } from "../../engine/ops/copy.ts";
import { tensor } from "../../engine/ops/creation.ts";
import { embedding } from "../../engine/ops/gather.ts";
import { scatterAddRows } from "../../engine/ops/scatter.ts";
import type { Tensor } from "../../engine/tensor.ts";

const gpu = await initWebGpu();

async function time(fn: () => Tensor, minMs = 300): Promise<number> {
  fn().dispose();
  await gpu.dispatcher.sync();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) fn().dispose();
    await gpu.dispatcher.sync();
    const ms = performance.now() - t0;
    if (ms >= minMs || reps >= 256) return ms / reps;
    reps = Math.min(256, Math.ceil((reps * minMs * 1.2) / Math.max(ms, 1)));
  }
}

for (const [v, d, n] of [[1024, 128, 1024], [50257, 768, 1024], [50257, 768, 16384]]) {
  // Uploaded, not filled: the core fill kernel binds whole tensors, and this one exceeds
  // lavapipe's 128 MiB binding limit.
  const weight = tensor(new Float32Array(v * d).fill(0.5), [v, d], { backend: gpu });
  const ids = tensor(Int32Array.from({ length: n }, (_, k) => (k * 7919) % v), [n], {
    dtype: "int32",
    backend: gpu,
  });
  const g = empty([n, d], "float32", gpu);
  fill(g, 1);
  const fwd = await time(() => embedding(weight, ids));
  const bwd = await time(() => scatterAddRows(g, ids, [v, d], 0));
  const launches = (fn: () => Tensor): number => {
    const before = gpu.dispatcher.stats().dispatches;
    fn().dispose();
    return gpu.dispatcher.stats().dispatches - before;
  };
  console.log(
    `V=${v} D=${d} N=${n}: forward ${fwd.toFixed(2)} ms (${
      launches(() => embedding(weight, ids))
    } ` +
      `launches), backward ${bwd.toFixed(2)} ms ` +
      `(${launches(() => scatterAddRows(g, ids, [v, d], 0))} launches) on ${gpu.adapter}`,
  );
  for (const t of [weight, ids, g]) t.dispose();
}
