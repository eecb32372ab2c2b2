// Timings of the row ops (softmax, log-softmax, cross-entropy, layer norm) on the WebGPU adapter:
// each case runs `reps` reps between two `dispatcher.sync()` calls, three times, and prints the
// best ms per rep (the machine may be shared).
// Usage: deno run -A bench/dev/row_ops.ts [reps]
import { tryWebGpu } from "../../engine/backend.ts";
import { randn, tensor } from "../../engine/ops/creation.ts";
import { crossEntropy } from "../../engine/ops/loss.ts";
import { layerNorm } from "../../engine/ops/layernorm.ts";
import { logSoftmax, softmax, softmaxBackward } from "../../engine/ops/softmax.ts";
import { noGrad } from "../../engine/autograd.ts";
import { tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";

const gpu = await tryWebGpu();
if (gpu === null) throw new Error("No WebGPU adapter");
const reps = Number(Deno.args[0] ?? 10);

async function time(label: string, step: () => void): Promise<number> {
  tidy(step); // warm-up: pipeline compilation
  await gpu!.dispatcher.sync();
  let ms = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) tidy(step);
    await gpu!.dispatcher.sync();
    ms = Math.min(ms, (performance.now() - t0) / reps);
  }
  console.log(`${label.padEnd(52)} ${ms.toFixed(2).padStart(8)} ms`);
  return ms;
}

// Forward and forward+backward of `fn(x)` with a leaf `x`; the difference is the backward.
async function fwdBwd(
  label: string,
  x: Tensor,
  fn: (x: Tensor) => Tensor,
  upstream?: Tensor,
): Promise<void> {
  const f = await time(`${label} forward`, () => noGrad(() => fn(x)));
  x.requiresGrad = true;
  const fb = await time(`${label} forward + backward`, () => {
    const y = fn(x);
    y.backward(upstream);
    x.grad!.dispose();
    x.grad = null;
  });
  x.requiresGrad = false;
  console.log(
    `${`${label} backward (difference)`.padEnd(52)} ${(fb - f).toFixed(2).padStart(8)} ms`,
  );
}

console.log(`adapter: ${gpu.adapter}, ${reps} reps`);
for (const [rows, len] of [[1024, 1000], [4096, 64], [64, 50257]]) {
  const x = randn([rows, len], { backend: gpu });
  const g = randn([rows, len], { backend: gpu });
  for (const [name, fn] of [["softmax", softmax], ["logSoftmax", logSoftmax]] as const) {
    const y = fn(x);
    await time(`${name} forward [${rows}, ${len}]`, () => fn(x));
    await time(
      `${name} backward kernel [${rows}, ${len}]`,
      () => softmaxBackward(y, g, name === "logSoftmax"),
    );
    y.dispose();
  }
  x.dispose();
  g.dispose();
}

for (const [rows, len] of [[1024, 1000], [256, 50257]]) {
  const x = randn([rows, len], { backend: gpu });
  const t = tensor(Array.from({ length: rows }, (_, i) => (i * 7919) % len), [rows], {
    backend: gpu,
    dtype: "int32",
  });
  await fwdBwd(`crossEntropy mean [${rows}, ${len}]`, x, (v) => crossEntropy(v, t));
  x.dispose();
  t.dispose();
}

for (const [rows, len] of [[1024, 128], [1024, 768], [8192, 768]]) {
  const x = randn([rows, len], { backend: gpu });
  const w = randn([len], { backend: gpu });
  const b = randn([len], { backend: gpu });
  const g = randn([rows, len], { backend: gpu });
  await fwdBwd(`layerNorm dx only [${rows}, ${len}]`, x, (v) => layerNorm(v, w, b), g);
  w.requiresGrad = true;
  b.requiresGrad = true;
  const f = await time(
    `layerNorm forward [${rows}, ${len}]`,
    () => noGrad(() => layerNorm(x, w, b)),
  );
  const fb = await time(`layerNorm forward + dweight/dbias [${rows}, ${len}]`, () => {
    layerNorm(x, w, b).backward(g);
    for (const p of [w, b]) {
      p.grad!.dispose();
      p.grad = null;
    }
  });
  console.log(
    `${`layerNorm dweight/dbias (difference) [${rows}, ${len}]`.padEnd(52)} ${
      (fb - f).toFixed(2).padStart(8)
    } ms`,
  );
  for (const v of [x, w, b, g]) v.dispose();
}
