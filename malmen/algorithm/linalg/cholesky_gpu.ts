/**
 * Blocked float32 Cholesky factorisation and solves on the WebGPU backend (kernels in
 * `kernels/cholesky.ts`). Nothing is read back: λ may come from a log-domain parameter tensor.
 * @module
 */
import type { GpuBackend } from "../../../engine/backend.ts";
import { empty } from "../../../engine/alloc.ts";
import { copyInto, fill, materialize, view } from "../../../engine/ops/copy.ts";
import { fmtShape } from "../../../engine/shape.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { grid1d, Uniforms } from "../../../kernels/common.ts";
import {
  CHOL_NB,
  type CholGemmConfig,
  cholGemmKey,
  cholGemmWgsl,
  GEMM_BLOCK,
  panelWgsl,
  potrfWgsl,
  shiftWgsl,
  trsmWgsl,
} from "../../../kernels/malmen/cholesky.ts";

/** The diagonal shift λ: a number, or `exp` of one element of a log-domain tensor. */
export type Shift = number | { readonly lamHat: Tensor };

/** A float32 Cholesky factor of `M + λI`, padded to a multiple of {@linkcode CHOL_NB}. */
export interface GpuCholesky {
  /** Order of M. */
  readonly n: number;
  /** Padded order. */
  readonly np: number;
  /** The padded factor `[np, np]` (lower triangle meaningful). */
  readonly l: Tensor;
}

/** Width of the panels whose trailing update is applied at once (a multiple of CHOL_NB). */
const OUTER = 4 * CHOL_NB;

function roundUp(x: number, m: number): number {
  return Math.max(m, Math.ceil(x / m) * m);
}

function gemm(
  gpu: GpuBackend,
  c: CholGemmConfig,
  sizes: { m: number; n: number; k: number },
  a: { off: number; ld: number },
  b: { off: number; ld: number },
  out: { off: number; ld: number },
  l: Tensor | null,
  w: Tensor,
): void {
  gpu.dispatcher.run({
    key: cholGemmKey(c),
    wgsl: () => cholGemmWgsl(c),
    uniforms: new Uniforms().u32(sizes.m, sizes.n, sizes.k, a.off, a.ld, b.off, b.ld, out.off)
      .u32(out.ld).words,
    inputs: l === null ? [] : [l.binding()],
    outputs: [w.binding()],
    workgroups: [sizes.n / GEMM_BLOCK, sizes.m / GEMM_BLOCK, 1],
  });
}

/**
 * Factors `M + λI` on the GPU (M symmetric n × n; only its lower triangle matters).
 * @param m The matrix, float32 on a WebGPU backend.
 * @param shift λ, or a log-domain tensor whose first element is λ̂ (λ = e^λ̂).
 * @returns The padded factor (dispose `l` when done).
 */
export function factorGpu(m: Tensor, shift: Shift): GpuCholesky {
  const gpu = m.backend as GpuBackend;
  const n = m.shape[0];
  const np = roundUp(n, CHOL_NB);
  const src = materialize(m);
  const w = empty([np, np], "float32", gpu);
  const fromLog = typeof shift !== "number";
  const lamOffset = fromLog ? shift.lamHat.offset : 0;
  const u = new Uniforms().u32(n, np, src.offset);
  if (fromLog) u.u32(lamOffset);
  else u.f32(shift);
  gpu.dispatcher.run({
    key: `chol:shift:${fromLog ? "log" : "value"}`,
    wgsl: () => shiftWgsl(fromLog),
    uniforms: u.words,
    inputs: fromLog ? [src.binding(), shift.lamHat.binding()] : [src.binding()],
    outputs: [w.binding()],
    workgroups: grid1d(np * np),
  });
  if (src !== m) src.dispose();
  // Two-level blocking: tiles of CHOL_NB columns are factored and applied only inside their
  // OUTER-wide panel; the trailing matrix gets one update per panel (K = OUTER), which cuts its
  // read-modify-write traffic by OUTER / CHOL_NB.
  const syrk = { transA: false, transB: true, aInW: true, lower: true };
  for (let q0 = 0; q0 < np; q0 += OUTER) {
    const q1 = Math.min(q0 + OUTER, np);
    for (let p0 = q0; p0 < q1; p0 += CHOL_NB) {
      const p1 = p0 + CHOL_NB;
      gpu.dispatcher.run({
        key: "chol:potrf",
        wgsl: potrfWgsl,
        uniforms: new Uniforms().u32(np, p0).words,
        inputs: [],
        outputs: [w.binding()],
        workgroups: [1, 1, 1],
      });
      if (p1 === np) break;
      const rows = np - p1;
      gpu.dispatcher.run({
        key: "chol:panel",
        wgsl: panelWgsl,
        uniforms: new Uniforms().u32(np, p0, rows).words,
        inputs: [],
        outputs: [w.binding()],
        workgroups: grid1d(rows),
      });
      if (p1 < q1) {
        const tile = { off: p1 * np + p0, ld: np };
        gemm(
          gpu,
          syrk,
          { m: rows, n: q1 - p1, k: CHOL_NB },
          tile,
          tile,
          {
            off: p1 * np + p1,
            ld: np,
          },
          null,
          w,
        );
      }
    }
    if (q1 < np) {
      const panel = { off: q1 * np + q0, ld: np };
      gemm(
        gpu,
        syrk,
        { m: np - q1, n: np - q1, k: q1 - q0 },
        panel,
        panel,
        {
          off: q1 * np + q1,
          ld: np,
        },
        null,
        w,
      );
    }
  }
  return { n, np, l: w };
}

/**
 * Solves `(M + λI)·X = B` with a GPU factor.
 * @param f The factor.
 * @param b Right-hand sides `[n, m]` on the same backend.
 * @returns X `[n, m]`.
 */
export function solveGpu(f: GpuCholesky, b: Tensor): Tensor {
  const gpu = f.l.backend as GpuBackend;
  const { n, np } = f;
  if (b.rank !== 2 || b.shape[0] !== n) {
    throw new RangeError(
      `Cannot solve an order-${n} system with right-hand sides "${fmtShape(b.shape)}"`,
    );
  }
  const m = b.shape[1];
  const mp = roundUp(m, GEMM_BLOCK);
  const y = empty([np, mp], "float32", gpu);
  fill(y, 0);
  const region = view(y, [n, m], [mp, 1], 0);
  copyInto(region, b);
  region.dispose();
  const quads = mp / 4;
  const trsm = (i0: number, upper: boolean): void =>
    gpu.dispatcher.run({
      key: `chol:trsm:${upper ? "upper" : "lower"}`,
      wgsl: () => trsmWgsl(upper),
      uniforms: new Uniforms().u32(np, i0, mp, quads).words,
      inputs: [f.l.binding()],
      outputs: [y.binding()],
      workgroups: grid1d(quads),
    });
  for (let i0 = 0; i0 < np; i0 += CHOL_NB) {
    if (i0 > 0) {
      gemm(
        gpu,
        { transA: false, transB: false, aInW: false, lower: false },
        { m: CHOL_NB, n: mp, k: i0 },
        { off: i0 * np, ld: np },
        { off: 0, ld: mp },
        { off: i0 * mp, ld: mp },
        f.l,
        y,
      );
    }
    trsm(i0, false);
  }
  for (let i0 = np - CHOL_NB; i0 >= 0; i0 -= CHOL_NB) {
    const i1 = i0 + CHOL_NB;
    if (i1 < np) {
      gemm(
        gpu,
        { transA: true, transB: false, aInW: false, lower: false },
        { m: CHOL_NB, n: mp, k: np - i1 },
        { off: i1 * np + i0, ld: np },
        { off: i1 * mp, ld: mp },
        { off: i0 * mp, ld: mp },
        f.l,
        y,
      );
    }
    trsm(i0, true);
  }
  const part = view(y, [n, m], [mp, 1], 0);
  const out = materialize(part);
  if (out !== part) part.dispose();
  y.dispose();
  return out;
}
