/**
 * Matrix multiplication (batched, with NN/NT/TN variants so backward never materialises a
 * transpose): forward kernel, backward rule, float64 reference.
 * @module
 */
import { empty } from "../alloc.ts";
import { record } from "./tape.ts";
import { contiguousStrides, fmtShape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import {
  hardwareMatmulConfigFor,
  matmulConfigFor,
  matmulKey,
  matmulUniforms,
  matmulWgsl,
  matmulWorkgroups,
} from "../../kernels/matmul.ts";
import { clone, fill, materialize, view } from "./copy.ts";
import { sumTo } from "./reduce.ts";

/** Which operands are used transposed. */
export interface MatmulOptions {
  /** Use `a` as `aᵀ` (its last two dimensions swapped). */
  transA?: boolean;
  /** Use `b` as `bᵀ`. */
  transB?: boolean;
}

/**
 * `op(a) · op(b)` over the last two dimensions, batched over the leading ones. A 2-D `b` is
 * shared by every batch (a linear layer); leading dimensions must otherwise match.
 * @param a `[..., M, K]` (or `[..., K, M]` with `transA`).
 * @param b `[..., K, N]` or `[K, N]` (or `[N, K]` forms with `transB`).
 * @returns `[..., M, N]`.
 * @example A linear layer
 * ```ts ignore
 * const y = matmul(x, w); // x [B, T, in], w [in, out] -> [B, T, out]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  a.assertLive("matmul");
  b.assertLive("matmul");
  if (a.rank < 2 || b.rank < 2) {
    throw new RangeError(
      `Cannot matmul "${fmtShape(a.shape)}" and "${fmtShape(b.shape)}": both need rank >= 2`,
    );
  }
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new TypeError("matmul() needs float tensors");
  }
  if (a.backend !== b.backend) throw new TypeError("matmul() got tensors on different backends");
  // A weight shared over a batch: fold the batch into M, so backward is one TN product.
  if (b.rank === 2 && a.rank > 2 && !transA) return foldedMatmul(a, b, transB);
  const m = transA ? a.shape[a.rank - 1] : a.shape[a.rank - 2];
  const k = transA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
  const kb = transB ? b.shape[b.rank - 1] : b.shape[b.rank - 2];
  const n = transB ? b.shape[b.rank - 2] : b.shape[b.rank - 1];
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const shareA = batchA.length === 0;
  const shareB = batchB.length === 0;
  if (k !== kb || (!shareA && !shareB && fmtShape(batchA) !== fmtShape(batchB))) {
    throw new RangeError(
      `Cannot matmul "${fmtShape(a.shape)}"${transA ? "ᵀ" : ""} and "${fmtShape(b.shape)}"${
        transB ? "ᵀ" : ""
      }: ` +
        (k !== kb ? `inner dimensions differ (${k} vs ${kb})` : "batch dimensions differ"),
    );
  }
  const batchShape = shareA ? batchB : batchA;
  const out = empty([...batchShape, m, n], "float32", a.backend);
  forward({ a, b, out, transA, transB, m, n, k, batch: sizeOf(batchShape), shareA, shareB });
  return record(out, "matmul", [a, b], (g) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      ga = transA
        ? matmul(b, g, { transA: transB, transB: true })
        : matmul(g, b, { transB: !transB });
      if (shareA && ga.rank > 2) ga = reduceBatch(ga, a);
    }
    if (b.requiresGrad) {
      gb = transB
        ? matmul(g, a, { transA: true, transB: transA })
        : matmul(a, g, { transA: !transA });
      if (shareB && gb.rank > 2) gb = reduceBatch(gb, b);
    }
    return [ga, gb];
  });
}

// [..., M, K] · [K, N]: one 2-D product over flattened rows, recorded as a single tape entry so
// no intermediate view has to outlive the call.
function foldedMatmul(a: Tensor, b: Tensor, transB: boolean): Tensor {
  const k = a.shape[a.rank - 1];
  const n = transB ? b.shape[0] : b.shape[1];
  const kb = transB ? b.shape[1] : b.shape[0];
  if (k !== kb) {
    throw new RangeError(
      `Cannot matmul "${fmtShape(a.shape)}" and "${fmtShape(b.shape)}"${transB ? "ᵀ" : ""}: ` +
        `inner dimensions differ (${k} vs ${kb})`,
    );
  }
  const rows = a.size / Math.max(k, 1);
  const flat = rowsView(a, k);
  const out = empty([...a.shape.slice(0, -1), n], "float32", a.backend);
  const out2 = rowsView(out, n);
  forward(flatProblem(flat, b, out2, transB, rows, n, k));
  flat.dispose();
  out2.dispose();
  return record(out, "matmul", [a, b], (g) => {
    const gFlat = rowsView(g, n);
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      const g2 = matmul(gFlat, b, { transB: !transB });
      ga = view(g2, a.shape, contiguousStrides(a.shape), g2.offset);
      g2.dispose();
    }
    if (b.requiresGrad) {
      const aFlat = rowsView(a, k);
      gb = transB ? matmul(gFlat, aFlat, { transA: true }) : matmul(aFlat, gFlat, { transA: true });
      aFlat.dispose();
    }
    gFlat.dispose();
    return [ga, gb];
  });
}

// A [rows, cols] view of a tensor whose rows are contiguous (copying when they are not).
function rowsView(t: Tensor, cols: number): Tensor {
  const c = materialize(t);
  const rows = c.size / Math.max(cols, 1);
  const v = view(c, [rows, cols], [cols, 1], c.offset);
  if (c !== t) c.dispose();
  return v;
}

function reduceBatch(g: Tensor, target: Tensor): Tensor {
  const r = sumTo(g, target.shape);
  g.dispose();
  return r;
}

// How one operand is laid out for the kernel: stored row-major ("N") or transposed ("T"),
// with one batch stride. Anything else is materialised first.
interface Operand {
  t: Tensor;
  trans: boolean;
  stride: number;
  temp: boolean;
}

function operand(
  x: Tensor,
  logicalTrans: boolean,
  rows: number,
  cols: number,
  batch: number,
  shared: boolean,
): Operand {
  // The logical matrix is [rows, cols]; find whether storage is row-major or column-major.
  const r = x.rank;
  const sr = logicalTrans ? x.strides[r - 1] : x.strides[r - 2];
  const sc = logicalTrans ? x.strides[r - 2] : x.strides[r - 1];
  const rowMajor = (sc === 1 || cols === 1) && (sr === cols || rows === 1);
  const colMajor = (sr === 1 || rows === 1) && (sc === rows || cols === 1);
  const stride = shared ? 0 : batchStride(x, rows * cols);
  const gpu = x.backend.kind === "webgpu" ? x.backend : null;
  const aligned = gpu === null || (x.offset * 4) % gpu.storageAlign === 0;
  if ((rowMajor || colMajor) && stride >= 0 && aligned) {
    return { t: x, trans: !rowMajor, stride: batch > 1 ? stride : 0, temp: false };
  }
  const c = materialize(x);
  return { t: c, trans: logicalTrans, stride: shared || batch <= 1 ? 0 : rows * cols, temp: true };
}

// The stride between consecutive matrices when the batch dimensions are dense, else -1.
function batchStride(x: Tensor, matrix: number): number {
  let expected = matrix;
  for (let d = x.rank - 3; d >= 0; d--) {
    if (x.shape[d] === 1) continue;
    if (x.strides[d] !== expected) return -1;
    expected *= x.shape[d];
  }
  return matrix;
}

// TN policy: A stored [K, M] (weight gradients xᵀ·g) is transposed by the 4×4 tile kernel and
// the product runs as NN. Measured on llvmpipe (bench/dev/tn_policy.ts): M=512 N=128 K=832 takes
// 59 ms as TN vs 3 + 11 ms; M=809 20 vs 11; M=128 N=128 K=1024 8 vs 1.3; never slower from
// m·n·k ≈ 10⁷ up. Below this size the extra dispatch and buffer are not worth it.
const TN_BY_TRANSPOSE_FLOPS = 1 << 20;

// A dense [M, K] (per batch) copy of an operand the kernel would read as [K, M].
function transposedOperand(A: Operand, m: number, k: number, batch: number): Operand {
  const shared = A.stride === 0 || batch <= 1;
  const src = shared
    ? view(A.t, [m, k], [1, m], A.t.offset)
    : view(A.t, [batch, m, k], [A.stride, 1, m], A.t.offset);
  const t = materialize(src);
  src.dispose();
  if (A.temp) A.t.dispose();
  return { t, trans: false, stride: shared ? 0 : m * k, temp: true };
}

/** One product: operands, output, logical shape and batch sharing. */
interface Problem {
  a: Tensor;
  b: Tensor;
  out: Tensor;
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  batch: number;
  shareA: boolean;
  shareB: boolean;
  bias?: Tensor | null;
}

// A 2-D product over flattened rows with a shared right-hand matrix.
function flatProblem(
  a: Tensor,
  b: Tensor,
  out: Tensor,
  transB: boolean,
  m: number,
  n: number,
  k: number,
): Problem {
  return { a, b, out, transA: false, transB, m, n, k, batch: 1, shareA: true, shareB: true };
}

/** Which matmul tiling the WebGPU backend uses (see `kernels/matmul.ts`). */
export type MatmulTiling = "auto" | "software" | "hardware";

let tiling: MatmulTiling = "auto";

/**
 * Overrides the matmul tiling policy: "auto" (default) picks the llvmpipe-tuned big register
 * tiles on software adapters and GPU-style 4×4 tiles elsewhere. Tests use it to run the
 * hardware kernels on a software adapter.
 */
export function setMatmulTiling(t: MatmulTiling): void {
  tiling = t;
}

function forward(p: Problem): void {
  const { a, b, out, transA, transB, m, n, k, batch, shareA, shareB } = p;
  const bias = p.bias ?? null;
  if (m * n * batch === 0) return;
  const backend = a.backend;
  if (backend.kind === "cpu") {
    cpuMatmul(p);
    if (bias !== null) cpuAddBias(out, bias, n);
    return;
  }
  if (k === 0 && bias === null) {
    fill(out, 0);
    return;
  }
  let A = operand(a, transA, m, k, batch, shareA);
  const B = operand(b, transB, k, n, batch, shareB);
  if (A.trans && m * n * k >= TN_BY_TRANSPOSE_FLOPS) A = transposedOperand(A, m, k, batch);
  const software = tiling === "auto" ? backend.isFallbackAdapter : tiling === "software";
  const base = (software ? matmulConfigFor : hardwareMatmulConfigFor)(m, n, k, A.trans, B.trans);
  const config = {
    ...base,
    vecA: base.vecA && A.stride % 4 === 0,
    vecB: base.vecB && B.stride % 4 === 0,
    bias: bias !== null,
  };
  // The epilogue reads the bias from index 0 of its binding: bind it exactly (or a copy).
  const aligned = bias !== null && (bias.offset * 4) % backend.storageAlign === 0;
  const biasT = bias === null || (bias.isContiguous && aligned) ? bias : clone(bias);
  backend.dispatcher.run({
    key: matmulKey(config),
    wgsl: () => matmulWgsl(config),
    uniforms: matmulUniforms(m, n, k, batch, A.stride, B.stride, m * n),
    inputs: [
      A.t.binding(true),
      B.t.binding(true),
      ...(biasT === null ? [] : [biasT.binding(true)]),
    ],
    outputs: [out.binding(true)],
    workgroups: matmulWorkgroups(config, m, n, batch),
  });
  if (A.temp) A.t.dispose();
  if (B.temp) B.t.dispose();
  if (biasT !== bias) biasT!.dispose();
}

/**
 * `a·op(b) + bias` over the rows of `a` without autograd (the forward of a linear layer, with
 * the bias added in the matmul kernel's epilogue instead of a separate broadcast add).
 * @param a Input `[..., K]`.
 * @param b Weight `[K, N]` (or `[N, K]` with `transB`).
 * @param bias Bias `[N]`.
 * @param transB Use `b` transposed.
 * @returns `[..., N]`.
 */
export function matmulBiasRaw(a: Tensor, b: Tensor, bias: Tensor, transB = false): Tensor {
  const k = a.shape[a.rank - 1];
  const n = transB ? b.shape[0] : b.shape[1];
  const rows = a.size / Math.max(k, 1);
  const flat = rowsView(a, k);
  const out = empty([...a.shape.slice(0, -1), n], "float32", a.backend);
  const out2 = rowsView(out, n);
  forward({ ...flatProblem(flat, b, out2, transB, rows, n, k), bias });
  flat.dispose();
  out2.dispose();
  return out;
}

function cpuAddBias(out: Tensor, bias: Tensor, n: number): void {
  const o = out.storage.array!;
  const bv = bias.storage.array!;
  for (let i = 0; i < out.size; i++) {
    o[out.offset + i] += bv[bias.offset + (i % n) * bias.strides[0]];
  }
}

function cpuMatmul(p: Problem): void {
  const { a, b, out, transA, transB, m, n, k, batch, shareA, shareB } = p;
  const av = a.storage.array!;
  const bv = b.storage.array!;
  const o = out.storage.array!;
  const ra = a.rank;
  const rb = b.rank;
  // Element strides of op(a)[i, p] and op(b)[p, j].
  const aI = transA ? a.strides[ra - 1] : a.strides[ra - 2];
  const aP = transA ? a.strides[ra - 2] : a.strides[ra - 1];
  const bP = transB ? b.strides[rb - 1] : b.strides[rb - 2];
  const bJ = transB ? b.strides[rb - 2] : b.strides[rb - 1];
  const batchShape = out.shape.slice(0, -2);
  for (let z = 0; z < batch; z++) {
    const aBase = shareA ? a.offset : offsetOf(a, batchShape, z);
    const bBase = shareB ? b.offset : offsetOf(b, batchShape, z);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) {
          acc += av[aBase + i * aI + p * aP] * bv[bBase + p * bP + j * bJ];
        }
        o[z * m * n + i * n + j] = acc;
      }
    }
  }
}

function offsetOf(x: Tensor, batchShape: readonly number[], z: number): number {
  let off = x.offset;
  let rem = z;
  for (let d = batchShape.length - 1; d >= 0; d--) {
    off += (rem % batchShape[d]) * x.strides[d];
    rem = Math.floor(rem / batchShape[d]);
  }
  return off;
}
