// Toy ridge problems shared by the ridge tests: keys, value differences, a weighted quadratic
// meta-loss on ΔW, the streamed solve and the differentiable op, and float64 references.
import type { Backend } from "../../../engine/backend.ts";
import { rng, tensor } from "../../../engine/ops/creation.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { type RidgeForm, ridgeSolve } from "../../../malmen/algorithm/ridge_solve.ts";
import { RidgeAccumulator, type RidgeSolver } from "../../../malmen/algorithm/ridge_accumulator.ts";

/** Seeded uniform values in [−scale, scale). */
export function values(n: number, seed: number, scale = 1): Float64Array {
  const next = rng(seed);
  return Float64Array.from({ length: n }, () => scale * (2 * next() - 1));
}

/** A toy problem: K [n, dIn], D [n, dOut], λ̂, a target T and weights w of the meta-loss. */
export interface Problem {
  n: number;
  dIn: number;
  dOut: number;
  k: Float64Array;
  d: Float64Array;
  lamHat: number;
  target: Float64Array;
  w: Float64Array;
}

/** A seeded toy problem. */
export function problem(n: number, dIn: number, dOut: number, lamHat: number, seed = 1): Problem {
  return {
    n,
    dIn,
    dOut,
    k: values(n * dIn, seed, 1.5),
    d: values(n * dOut, seed + 1),
    lamHat,
    target: values(dIn * dOut, seed + 2, 0.3),
    w: values(dIn * dOut, seed + 3, 0.5).map((x) => 1 + x),
  };
}

/** L = ½ Σ w (ΔW − T)², the toy meta-loss. */
export function metaLoss(p: Problem, dW: ArrayLike<number>): number {
  let l = 0;
  for (let i = 0; i < dW.length; i++) l += 0.5 * p.w[i] * (dW[i] - p.target[i]) ** 2;
  return l;
}
/** G = ∂L/∂ΔW = w ⊙ (ΔW − T). */
export function metaGrad(p: Problem, dW: ArrayLike<number>): Float64Array {
  return Float64Array.from(dW, (x, i) => p.w[i] * (x - p.target[i]));
}

/** Rows [s, e) of a row-major array as a tensor. */
export const rowsOf = (
  v: Float64Array,
  s: number,
  e: number,
  width: number,
  backend: Backend,
): Tensor => tensor(v.subarray(s * width, e * width), [e - s, width], { backend });

/** Streams the problem through an accumulator in uneven chunks; returns ΔW and the closed forms. */
export async function streamed(
  p: Problem,
  backend: Backend,
  options: { form?: RidgeForm; solver?: RidgeSolver; chunks?: number[] } = {},
): Promise<{ form: RidgeForm; dW: Float64Array; gD: Float64Array; gLam: number }> {
  const acc = new RidgeAccumulator(p.dIn, p.dOut, { form: options.form, solver: options.solver });
  const bounds: [number, number][] = [];
  let s = 0;
  for (const c of options.chunks ?? [3, 1, 5, p.n]) {
    const e = Math.min(p.n, s + c);
    if (e > s) bounds.push([s, e]);
    s = e;
  }
  for (const [a, b] of bounds) {
    acc.add(rowsOf(p.k, a, b, p.dIn, backend), rowsOf(p.d, a, b, p.dOut, backend));
  }
  const sol = await acc.solve(tensor([p.lamHat], [1], { backend }));
  const dW = Float64Array.from(await sol.deltaW.toArray());
  const bw = await sol.backward(tensor(metaGrad(p, dW), [p.dIn, p.dOut], { backend }));
  const gD = new Float64Array(p.n * p.dOut);
  for (const [a, b] of bounds) {
    gD.set(await bw.gradValues(a, rowsOf(p.k, a, b, p.dIn, backend)).toArray(), a * p.dOut);
  }
  const out = { form: sol.form, dW, gD, gLam: (await bw.gradLamHat.toArray())[0] };
  bw.dispose();
  sol.dispose();
  acc.dispose();
  return out;
}

/** The differentiable op with plain autograd. */
export async function autograd(p: Problem, backend: Backend, form: RidgeForm) {
  const k = tensor(p.k, [p.n, p.dIn], { backend });
  const d = tensor(p.d, [p.n, p.dOut], { backend, requiresGrad: true });
  const l = tensor([p.lamHat], [1], { backend, requiresGrad: true });
  const dWt = ridgeSolve(k, d, l, { form });
  const dW = Float64Array.from(await dWt.toArray());
  dWt.backward(tensor(metaGrad(p, dW), [p.dIn, p.dOut], { backend }));
  return { dW, gD: Float64Array.from(await d.grad!.toArray()), gLam: (await l.grad!.toArray())[0] };
}

/** Normal-equation residual ‖(KᵀK + λI)ΔW − KᵀD‖ / ‖KᵀD‖ in float64. */
export function residual(p: Problem, dW: ArrayLike<number>): number {
  const lam = Math.exp(p.lamHat);
  let num = 0, den = 0;
  for (let i = 0; i < p.dIn; i++) {
    for (let c = 0; c < p.dOut; c++) {
      let lhs = lam * dW[i * p.dOut + c], rhs = 0;
      for (let r = 0; r < p.n; r++) {
        const kri = p.k[r * p.dIn + i];
        rhs += kri * p.d[r * p.dOut + c];
        let kw = 0;
        for (let j = 0; j < p.dIn; j++) kw += p.k[r * p.dIn + j] * dW[j * p.dOut + c];
        lhs += kri * kw;
      }
      num += (lhs - rhs) ** 2;
      den += rhs ** 2;
    }
  }
  return Math.sqrt(num / den);
}
