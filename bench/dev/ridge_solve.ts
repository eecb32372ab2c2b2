// Where should the MALMEN ridge solve run? Times `RidgeAccumulator.solve()` and
// `RidgeSolution.backward()` with the float64 host Cholesky ("host") and the float32 GPU kernels
// ("device"), and reports the normal-equation residual ‖(KᵀK + λI)ΔW − KᵀD‖/‖KᵀD‖ of the ΔW
// each delivers and its forward error ‖ΔW − ΔW₆₄‖/‖ΔW₆₄‖, both against the exact system of the
// (float32) keys and values, built and solved in float64 on the host.
// Run: deno run -A bench/dev/ridge_solve.ts [dIn ...]   (default 512 3072)
import { initWebGpu } from "../../engine/backend.ts";
import { noGrad } from "../../engine/autograd.ts";
import { randn } from "../../engine/ops/creation.ts";
import { gelu } from "../../engine/ops/elementwise.ts";
import { slice } from "../../engine/ops/view.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { gemmNTSub } from "../../malmen/algorithm/linalg/gemm64.ts";
import { cholesky64, solve64, transpose64 } from "../../malmen/algorithm/linalg/cholesky64.ts";
import { RidgeAccumulator, type RidgeSolver } from "../../malmen/algorithm/ridge_accumulator.ts";
import type { RidgeForm } from "../../malmen/algorithm/ridge_solve.ts";

const gpu = await initWebGpu();
console.log(`adapter: ${gpu.adapter}`);
const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [512, 3072];
const CHUNK = 1024;
const ROUNDS = 3;

// ‖(M + λI)·X − B‖/‖B‖ in float64; M [n, n], X and B [n, m].
function residual(
  mv: ArrayLike<number>,
  lam: number,
  x: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  m: number,
): number {
  const r = Float64Array.from(b, (v) => -v);
  for (let i = 0; i < n * m; i++) r[i] += lam * x[i];
  // r −= −M·X, with the NT kernel: (M·X)[i][j] = Σ_p M[i][p]·Xᵀ[j][p].
  const neg = Float64Array.from(mv, (v) => -v);
  gemmNTSub(
    { data: r, offset: 0, ld: m },
    { data: neg, offset: 0, ld: n },
    { data: transpose64(x, n, m), offset: 0, ld: n },
    n,
    m,
    n,
  );
  let num = 0, den = 0;
  for (let i = 0; i < r.length; i++) {
    num += r[i] ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function shifted(m: ArrayLike<number>, n: number, lam: number): Float64Array {
  const a = Float64Array.from(m);
  for (let i = 0; i < n; i++) a[i * n + i] += lam;
  return a;
}

function relErr(x: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (x[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  await gpu.dispatcher.sync();
  const t0 = performance.now();
  const r = await fn();
  await gpu.dispatcher.sync();
  return [r, performance.now() - t0];
}

for (const dIn of sizes) {
  const dOut = dIn / 4;
  for (const [form, n] of [["primal", dIn + 64], ["dual", dIn / 2]] as [RidgeForm, number][]) {
    // GELU keys (what an FFN output projection sees) and small value differences.
    const keys: Tensor = noGrad(() => gelu(randn([n, dIn], { seed: 1, backend: gpu })));
    const values: Tensor = randn([n, dOut], { seed: 2, scale: 1e-2, backend: gpu });
    const g: Tensor = randn([dIn, dOut], { seed: 3, backend: gpu });
    // The exact system of these (float32) keys and values, built and solved in float64.
    const [kv, vv] = await Promise.all([keys.toArray(), values.toArray()]);
    const kt = transpose64(kv, n, dIn);
    const mv = new Float64Array(dIn * dIn);
    const bv = new Float64Array(dIn * dOut);
    gemmNTSub(
      { data: mv, offset: 0, ld: dIn },
      { data: kt, offset: 0, ld: n },
      { data: kt, offset: 0, ld: n },
      dIn,
      dIn,
      n,
    );
    gemmNTSub(
      { data: bv, offset: 0, ld: dOut },
      { data: kt, offset: 0, ld: n },
      { data: transpose64(vv, n, dOut), offset: 0, ld: n },
      dIn,
      dOut,
      n,
    );
    mv.forEach((x, i) => (mv[i] = -x));
    bv.forEach((x, i) => (bv[i] = -x));
    const exact = solve64(cholesky64(shifted(mv, dIn, 1), dIn), bv, dOut);
    // Rounds alternate between the solvers (the machine is shared, so load drifts); round 0
    // compiles pipelines and warms the JIT; the minimum of the later rounds is reported.
    const best = new Map<RidgeSolver, { solve: number; back: number; res: number; fwd: number }>();
    for (let round = 0; round < ROUNDS + 1; round++) {
      for (const solver of ["host", "device"] as RidgeSolver[]) {
        const acc = new RidgeAccumulator(dIn, dOut, { form, solver });
        for (let s = 0; s < n; s += CHUNK) {
          const e = Math.min(n, s + CHUNK);
          noGrad(() => acc.add(slice(keys, [s, 0], [e, dIn]), slice(values, [s, 0], [e, dOut])));
        }
        const [sol, tSolve] = await timed(() => acc.solve(0));
        const [bw, tBack] = await timed(() => sol.backward(g));
        if (round > 0) {
          const prev = best.get(solver);
          if (prev === undefined) {
            const dW = await sol.deltaW.toArray();
            const res = residual(mv, 1, dW, bv, dIn, dOut);
            best.set(solver, { solve: tSolve, back: tBack, res, fwd: relErr(dW, exact) });
          } else {
            prev.solve = Math.min(prev.solve, tSolve);
            prev.back = Math.min(prev.back, tBack);
          }
        }
        bw.dispose();
        sol.dispose();
        acc.dispose();
      }
    }
    for (const [solver, r] of best) {
      console.log(
        `d_in ${dIn}, d_out ${dOut}, n ${n}, ${form}, ${solver}: ` +
          `solve ${r.solve.toFixed(0)} ms, backward ${r.back.toFixed(0)} ms, ` +
          `residual ${r.res.toExponential(2)}, forward error ${r.fwd.toExponential(2)}`,
      );
    }
    for (const t of [keys, values, g]) t.dispose();
  }
}
