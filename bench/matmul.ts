// fp32 square matmul GFLOP/s: this engine vs tfjs-webgpu, same adapter, same process.
import { type Backend, sync } from "../engine/backend.ts";
import { rand } from "../engine/ops/creation.ts";
import { matmul } from "../engine/ops/matmul.ts";
import { tidy } from "../engine/scope.ts";
import type { Bench, BenchContext } from "./types.ts";
import { timeMs } from "./timing.ts";

function repsFor(n: number, quick: boolean): number {
  const r = Math.max(1, Math.round(2 * 1024 ** 3 / n ** 3));
  return quick ? Math.max(1, r >> 2) : r;
}

async function ours(gpu: Backend, n: number, reps: number): Promise<number> {
  const a = rand([n, n], { seed: 1, backend: gpu });
  const b = rand([n, n], { seed: 2, backend: gpu });
  const ms = await timeMs(async () => {
    for (let i = 0; i < reps; i++) tidy(() => void matmul(a, b));
    await sync(gpu);
  }, 3);
  a.dispose();
  b.dispose();
  return (2 * n ** 3 * reps) / (ms * 1e6);
}

/** The matmul benchmark. */
export const matmulBench: Bench = {
  name: "matmul",
  description: "fp32 square matmul GFLOP/s at N = 256, 512, 1024, 2048 (ours vs tfjs-webgpu)",
  async run(ctx: BenchContext): Promise<void> {
    const sizes = ctx.quick ? [256, 512] : [256, 512, 1024, 2048];
    for (const n of sizes) {
      if (ctx.stop.requested) return;
      const reps = repsFor(n, ctx.quick);
      ctx.log(`matmul N=${n}: ours (${reps} reps)`);
      const g = await ours(ctx.backend, n, reps);
      ctx.emit({ bench: "matmul", n, impl: "ours", backend: ctx.backend.kind, gflops: round(g) });
      if (!ctx.peers) continue;
      ctx.log(`matmul N=${n}: tfjs-webgpu`);
      // Loaded only when asked for: the peer's npm packages are large and may be absent.
      const { tfjsMatmulGflops } = await import("./peers/tfjs.ts");
      const p = await tfjsMatmulGflops(n, reps);
      ctx.emit({ bench: "matmul", n, impl: "tfjs-webgpu", backend: "webgpu", gflops: round(p) });
    }
  },
};

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
