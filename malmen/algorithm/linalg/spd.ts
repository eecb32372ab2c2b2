/**
 * Factor-once, solve-many for `M + λI` (M symmetric positive semi-definite) on the tensor's own
 * backend: the float64 TypeScript Cholesky on the CPU reference backend, the blocked float32
 * kernels on WebGPU. Synchronous and readback-free, so autograd ops can use it.
 * @module
 */
import type { Tensor } from "../../../engine/tensor.ts";
import { upload } from "../../../engine/alloc.ts";
import { cpuValues } from "../../../engine/ops/cpu_iter.ts";
import { fmtShape } from "../../../engine/shape.ts";
import { keep } from "../../../engine/scope.ts";
import { type Cholesky64, cholesky64, solve64 } from "./cholesky64.ts";
import { factorGpu, type GpuCholesky, type Shift, solveGpu } from "./cholesky_gpu.ts";

export type { Shift } from "./cholesky_gpu.ts";

/** A factorisation of `M + λI` that solves right-hand sides on M's backend. */
export interface SpdFactor {
  /** Order of M. */
  readonly n: number;
  /**
   * Solves `(M + λI)·X = B`.
   * @param b Right-hand sides `[n, m]`.
   * @returns X `[n, m]` (a new tensor).
   */
  solve(b: Tensor): Tensor;
  /** Takes the factor's device memory out of every open `tidy` scope (long-lived owners). */
  retain(): void;
  /** Releases the factor's memory. */
  dispose(): void;
}

/**
 * λ of a shift on the CPU backend.
 * @param shift A number or a log-domain tensor.
 * @returns λ.
 */
function cpuLambda(shift: Shift): number {
  if (typeof shift === "number") return shift;
  return Math.exp(cpuValues(shift.lamHat)[0]);
}

/**
 * Factors `M + λI`.
 * @param m Square symmetric matrix `[n, n]` (float).
 * @param shift λ, or `{ lamHat }` with λ = exp(first element of lamHat), read on the device.
 */
export function factorSpd(m: Tensor, shift: Shift): SpdFactor {
  m.assertLive("factor");
  if (m.rank !== 2 || m.shape[0] !== m.shape[1]) {
    throw new RangeError(`Cannot factor "${fmtShape(m.shape)}": the matrix must be square`);
  }
  if (typeof shift !== "number" && shift.lamHat.backend !== m.backend) {
    throw new TypeError("factorSpd() got the matrix and lamHat on different backends");
  }
  const n = m.shape[0];
  const backend = m.backend;
  if (backend.kind === "cpu") {
    const a = Float64Array.from(cpuValues(m));
    const lam = cpuLambda(shift);
    for (let i = 0; i < n; i++) a[i * n + i] += lam;
    const f: Cholesky64 = cholesky64(a, n);
    return {
      n,
      solve: (b) => {
        checkRhs(n, b);
        return upload(solve64(f, cpuValues(b), b.shape[1]), b.shape, "float32", backend);
      },
      retain: () => {},
      dispose: () => {},
    };
  }
  const g: GpuCholesky = factorGpu(m, shift);
  return {
    n,
    solve: (b) => {
      checkRhs(n, b);
      return solveGpu(g, b);
    },
    retain: () => void keep(g.l),
    dispose: () => g.l.dispose(),
  };
}

function checkRhs(n: number, b: Tensor): void {
  b.assertLive("solve");
  if (b.rank !== 2 || b.shape[0] !== n) {
    throw new RangeError(
      `Cannot solve an order-${n} system with right-hand sides "${fmtShape(b.shape)}"`,
    );
  }
}
