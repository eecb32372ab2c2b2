/**
 * Timings of `causalAttention()` (fused vs composed) on the current WebGPU adapter: forward and
 * forward+backward, in ms per call, measured as R calls between two `dispatcher.sync()`.
 *
 * Run: `deno run -A bench/dev/attention_bench.ts [--shapes=16x4x64x32,...] [--reps=20] [--layout=qkv|contiguous]`
 * @module
 */
import { tryWebGpu } from "../../engine/backend.ts";
import { randn } from "../../engine/ops/creation.ts";
import { type AttentionImpl, causalAttention } from "../../engine/ops/attention.ts";
import { noGrad } from "../../engine/autograd.ts";
import { tidy } from "../../engine/scope.ts";
import { view } from "../../engine/ops/copy.ts";
import type { Tensor } from "../../engine/tensor.ts";

const gpu = await tryWebGpu();
if (gpu === null) throw new Error("No WebGPU adapter");
const args = Object.fromEntries(Deno.args.map((a) => a.replace(/^--/, "").split("=")));
const shapes = (args.shapes ?? "16x4x32x32,16x4x64x32,16x4x128x32").split(",")
  .map((s: string) => s.split("x").map(Number));
const reps = Number(args.reps ?? 10);
const trials = Number(args.trials ?? 3);
const layout = args.layout ?? "qkv";
const impls = (args.impls ?? "fused,composed").split(",") as AttentionImpl[];

// Leaf views of one buffer: q, k, v as a GPT's fused projection yields them (strided views of
// one [B, T, 3, H, hd] tensor), or three contiguous [B, H, T, hd] blocks.
function inputs(b: number, h: number, t: number, hd: number): { base: Tensor; qkv: Tensor[] } {
  const base = randn([b, t, 3, h, hd], { backend: gpu!, seed: 1 });
  const qkv = [0, 1, 2].map((i) => {
    const x = layout === "contiguous"
      ? view(base, [b, h, t, hd], [h * t * hd, t * hd, hd, 1], i * b * h * t * hd)
      : view(base, [b, h, t, hd], [t * 3 * h * hd, hd, 3 * h * hd, 1], i * h * hd);
    x.requiresGrad = true;
    return x;
  });
  return { base, qkv };
}

// Mean ms per call over enough calls (at least `reps`, and ≥ ~250 ms in all) that the ≥ 11 ms
// completion poll of `sync()` stays a small share.
async function time(fn: () => void): Promise<number> {
  fn();
  await gpu!.dispatcher.sync();
  let t0 = performance.now();
  fn();
  await gpu!.dispatcher.sync();
  const n = Math.max(reps, Math.ceil(250 / Math.max(0.05, performance.now() - t0)));
  t0 = performance.now();
  for (let r = 0; r < n; r++) fn();
  await gpu!.dispatcher.sync();
  return (performance.now() - t0) / n;
}

console.log(`adapter: ${gpu.adapter}; layout ${layout}; best of ${trials} trials of ${reps} reps`);
for (const [b, h, t, hd] of shapes) {
  const { base, qkv } = inputs(b, h, t, hd);
  const [q, k, v] = qkv;
  const up = randn([b, h, t, hd], { backend: gpu, seed: 2 });
  const forward = (impl: AttentionImpl) => () =>
    noGrad(() => tidy(() => void causalAttention(q, k, v, { impl })));
  const both = (impl: AttentionImpl) => () => {
    tidy(() => causalAttention(q, k, v, { impl }).backward(up));
    for (const x of qkv) {
      x.grad?.dispose();
      x.grad = null;
    }
  };
  // Trials alternate between implementations so that load from other processes hits both alike.
  const best = new Map<string, number>();
  for (let trial = 0; trial < trials; trial++) {
    for (const impl of impls) {
      for (
        const [what, fn] of [["forward", forward(impl)], ["forward+backward", both(impl)]] as const
      ) {
        const key = `${impl}|${what}`;
        best.set(key, Math.min(best.get(key) ?? Infinity, await time(fn)));
      }
    }
  }
  for (const impl of impls) {
    const f = best.get(`${impl}|forward`)!.toFixed(3);
    const fb = best.get(`${impl}|forward+backward`)!.toFixed(3);
    console.log(
      `B=${b} H=${h} T=${t} hd=${hd} ${impl.padEnd(8)} forward ${f} ms  forward+backward ${fb} ms`,
    );
  }
  for (const x of [...qkv, base, up]) x.dispose();
}
