// Numerical checking helpers: explicit-tolerance comparison, finite-difference gradients on the
// float64 CPU backend, and GPU-vs-reference op checks.
import { type Backend, CPU } from "../engine/backend.ts";
import { type Shape, sizeOf } from "../engine/shape.ts";
import type { Tensor } from "../engine/tensor.ts";
import { rng, tensor } from "../engine/ops/creation.ts";
import { mul } from "../engine/ops/elementwise.ts";
import { sum } from "../engine/ops/reduce.ts";
import { tidy } from "../engine/scope.ts";
import { noGrad } from "../engine/autograd.ts";
import { gpu, gpuTest } from "./_gpu.ts";

/** Absolute and relative tolerance: |a − e| ≤ atol + rtol·|e| elementwise. */
export interface Tol {
  atol: number;
  rtol: number;
}

/**
 * Asserts elementwise closeness and reports the worst index on failure.
 * @param actual Values under test.
 * @param expected Reference values.
 * @param label Message prefix.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
  label = "values",
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length} != expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${label}: index ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(atol ${tol.atol}, rtol ${tol.rtol})`,
    );
  }
}

/** How to make one input of an op under test. */
export type InputSpec = Shape | {
  shape: Shape;
  values: ArrayLike<number>;
  int?: boolean;
  grad?: boolean;
};

/** One op to check on both backends. */
export interface OpCase {
  /** Test label, e.g. "`matmul()` NT". */
  name: string;
  /** Inputs: shapes (random floats in [lo, hi]) or explicit values. */
  inputs: readonly InputSpec[];
  /** The op under test; must return a float tensor. */
  fn: (xs: Tensor[]) => Tensor;
  /** Range of random inputs (default [-2, 2]). */
  range?: [number, number];
  /** Seed (default 1). */
  seed?: number;
  /** Forward GPU tolerance (default atol 1e-5, rtol 1e-3). */
  fwd?: Tol;
  /** Gradient GPU tolerance (default atol 1e-4, rtol 1e-3). */
  grad?: Tol;
  /** Finite-difference tolerance on the CPU (default atol 1e-6, rtol 1e-5). */
  fd?: Tol;
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Skip the gradient checks (non-differentiable ops). */
  noGrad?: boolean;
}

function makeInputs(c: OpCase, backend: Backend): Tensor[] {
  const next = rng(c.seed ?? 1);
  const [lo, hi] = c.range ?? [-2, 2];
  return c.inputs.map((spec) => {
    if (Array.isArray(spec)) {
      const shape = spec as Shape;
      const v = Float64Array.from({ length: sizeOf(shape) }, () => lo + (hi - lo) * next());
      return tensor(v, shape, { backend, requiresGrad: !c.noGrad });
    }
    const s = spec as { shape: Shape; values: ArrayLike<number>; int?: boolean; grad?: boolean };
    return tensor(s.values, s.shape, {
      backend,
      dtype: s.int ? "int32" : "float32",
      requiresGrad: !s.int && !c.noGrad && (s.grad ?? true),
    });
  });
}

// Fixed non-uniform weights so the scalar loss exercises every output element differently.
function weightsFor(shape: Shape, backend: Backend): Tensor {
  const next = rng(99);
  return tensor(Float64Array.from({ length: sizeOf(shape) }, () => 0.5 + next()), shape, {
    backend,
  });
}

interface RunResult {
  out: ArrayLike<number>;
  grads: (ArrayLike<number> | null)[];
}

async function run(c: OpCase, backend: Backend): Promise<RunResult> {
  const xs = makeInputs(c, backend);
  // Backward runs inside the scope: intermediates saved for it are freed when the scope ends.
  const out = tidy(() => {
    const y = c.fn(xs);
    if (!c.noGrad) sum(mul(y, weightsFor(y.shape, backend))).backward();
    return y;
  });
  const result: RunResult = {
    out: await out.toArray(),
    grads: await Promise.all(xs.map((x) => (x.grad ? x.grad.toArray() : Promise.resolve(null)))),
  };
  for (const x of xs) {
    x.grad?.dispose();
    x.dispose();
  }
  out.dispose();
  return result;
}

/**
 * Central finite differences of `sum(fn(xs) * w)` w.r.t. every float input, on the CPU.
 * @returns One gradient array per input (null for int inputs).
 */
export function finiteDifferences(c: OpCase): (Float64Array | null)[] {
  const eps = c.eps ?? 1e-6;
  const xs = makeInputs(c, CPU);
  const loss = (): number =>
    noGrad(() =>
      tidy(() => {
        const y = c.fn(xs);
        const w = weightsFor(y.shape, CPU);
        return (sum(mul(y, w)).storage.array as Float64Array)[0];
      })
    );
  const grads = xs.map((x) => {
    if (x.dtype === "int32" || !x.requiresGrad) return null;
    const a = x.storage.array as Float64Array;
    const g = new Float64Array(x.size);
    for (let i = 0; i < x.size; i++) {
      const keepV = a[x.offset + i];
      a[x.offset + i] = keepV + eps;
      const up = loss();
      a[x.offset + i] = keepV - eps;
      const down = loss();
      a[x.offset + i] = keepV;
      g[i] = (up - down) / (2 * eps);
    }
    return g;
  });
  for (const x of xs) x.dispose();
  return grads;
}

/**
 * Registers the standard checks of an op: float64 autograd vs finite differences, and the
 * WebGPU forward and gradients vs the float64 reference.
 */
export function checkOp(c: OpCase): void {
  if (!c.noGrad) {
    Deno.test(`${c.name}: float64 gradient matches finite differences`, async () => {
      const ref = await run(c, CPU);
      const fd = finiteDifferences(c);
      fd.forEach((g, k) => {
        if (g === null) return;
        if (ref.grads[k] === null) throw new Error(`input ${k}: no gradient`);
        assertClose(ref.grads[k]!, g, c.fd ?? { atol: 1e-6, rtol: 1e-5 }, `input ${k} gradient`);
      });
    });
  }
  gpuTest(`${c.name}: WebGPU matches the float64 reference`, async () => {
    const ref = await run(c, CPU);
    const got = await run(c, gpu!);
    assertClose(got.out, ref.out, c.fwd ?? { atol: 1e-5, rtol: 1e-3 }, "forward");
    ref.grads.forEach((g, k) => {
      if (g === null) return;
      assertClose(got.grads[k]!, g, c.grad ?? { atol: 1e-4, rtol: 1e-3 }, `input ${k} gradient`);
    });
  });
}
