// fp32 square matmul GFLOP/s: this engine vs tfjs-webgpu, same adapter, same process.
import process from "node:process";
import { type Backend, sync } from "../engine/backend.ts";
import { rand } from "../engine/ops/creation.ts";
import { matmul } from "../engine/ops/matmul.ts";
import { tidy } from "../engine/scope.ts";
import type { Bench, BenchContext } from "./types.ts";
import { cardOf, timeMs } from "./timing.ts";

// Each timed body runs `reps` products and waits for the device once (no readback): reps double
// until a body takes at least this long, so the ~11 ms completion poll of Deno's WebGPU stays a
// small share even on a fast card.
const MIN_BODY_MS = 300;

interface OursStats {
  gflops: number;
  /** GFLOP per CPU-second of this process (all threads): the work, whatever the machine's load. */
  perCpu: number;
  reps: number;
}

async function ours(backend: Backend, n: number, quick: boolean): Promise<OursStats> {
  const a = rand([n, n], { seed: 1, backend });
  const b = rand([n, n], { seed: 2, backend });
  const body = (reps: number) => async () => {
    for (let i = 0; i < reps; i++) tidy(() => void matmul(a, b));
    await sync(backend);
  };
  await body(1)(); // compiles the pipeline
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    await body(reps)();
    if (performance.now() - t0 >= (quick ? MIN_BODY_MS / 4 : MIN_BODY_MS) || reps >= 1 << 14) break;
    reps *= 2;
  }
  const c0 = process.cpuUsage();
  const ms = await timeMs(body(reps), 3);
  const c = process.cpuUsage(c0);
  a.dispose();
  b.dispose();
  // timeMs runs the body once untimed, then 3 times.
  const flop = 2 * n ** 3 * reps;
  return { gflops: flop / (ms * 1e6), perCpu: (4 * flop) / ((c.user + c.system) * 1e3), reps };
}

/** The matmul benchmark. */
export const matmulBench: Bench = {
  name: "matmul",
  description:
    "fp32 square matmul GFLOP/s at N = 256 … 2048, and 4096 on a hardware GPU (ours vs tfjs-webgpu)",
  async run(ctx: BenchContext): Promise<void> {
    const backend = ctx.backend;
    const hardware = backend.kind === "webgpu" && !backend.isFallbackAdapter;
    const sizes = ctx.quick
      ? [256, 512]
      : hardware
      ? [256, 512, 1024, 2048, 4096]
      : [256, 512, 1024, 2048];
    const card = cardOf(backend);
    for (const n of sizes) {
      if (ctx.stop.requested) return;
      ctx.log(`matmul N=${n}: ours on ${card}`);
      const { gflops: g, perCpu, reps } = await ours(backend, n, ctx.quick);
      ctx.emit({
        bench: "matmul",
        n,
        impl: "ours",
        backend: backend.kind,
        gflops: round(g),
        gflops_per_cpu_s: round(perCpu),
        card,
      });
      if (!ctx.peers || ctx.stop.requested) continue;
      ctx.log(`matmul N=${n}: tfjs-webgpu (${reps} reps)`);
      // Loaded only when asked for: the peer's npm packages are large and may be absent.
      const { tfjsMatmulStats } = await import("./peers/tfjs.ts");
      const t = await tfjsMatmulStats(n, reps);
      const p = t.gflops;
      ctx.emit({
        bench: "matmul",
        n,
        impl: "tfjs-webgpu",
        backend: "webgpu",
        gflops: round(p),
        gflops_per_cpu_s: round(p / Math.max(t.cores, 1e-9)),
        card,
      });
      ctx.log(`matmul N=${n}: ours / tfjs-webgpu = ${(g / p).toFixed(2)}x`);
    }
  },
};

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
