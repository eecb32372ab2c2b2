/**
 * The matmul kernel runner without autograd: operand layouts (row- or column-major views bound in
 * place, anything else copied), the tiling policy per adapter, epilogues (bias, GELU,
 * accumulation into the destination) and the float64 reference. The differentiable `matmul` and
 * `linear` ops are built on it.
 * @module
 */
import { empty } from "../alloc.ts";
import { fmtShape, sizeOf } from "../shape.ts";
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

/** One product: operands, output, logical shape, batch sharing and epilogue. */
export interface Problem {
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
  /** Added to every row (`[N]`). */
  bias?: Tensor | null;
  /** `out += product` instead of `out = product`. */
  accumulate?: boolean;
  /** `out = gelu(product + bias)`; with `pre`, the pre-activation is written there too. */
  gelu?: boolean;
  /** Destination of the pre-activation (same shape as `out`), with `gelu`. */
  pre?: Tensor | null;
}

/** The logical sizes of `op(a) · op(b)` and how the batch is shared. */
export interface ProductShape {
  m: number;
  n: number;
  k: number;
  /** Leading dimensions of the result. */
  batchShape: number[];
  shareA: boolean;
  shareB: boolean;
}

/**
 * Checks that `op(a) · op(b)` is defined and returns its sizes.
 * @throws RangeError naming both shapes when inner or batch dimensions differ.
 */
export function productShape(
  a: Tensor,
  b: Tensor,
  transA: boolean,
  transB: boolean,
): ProductShape {
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
  return { m, n, k, batchShape: shareA ? batchB : batchA, shareA, shareB };
}

/**
 * `out (+)= op(a) · op(b)` without autograd, batched like `matmul`; `out` must be contiguous
 * with the result's shape.
 * @param accumulate Add into `out` instead of overwriting it.
 */
export function matmulInto(
  a: Tensor,
  b: Tensor,
  out: Tensor,
  transA: boolean,
  transB: boolean,
  accumulate: boolean,
): void {
  const s = productShape(a, b, transA, transB);
  const want = [...s.batchShape, s.m, s.n];
  if (fmtShape(out.shape) !== fmtShape(want) || !out.isContiguous) {
    throw new RangeError(
      `Cannot write a product "${fmtShape(want)}" into "${fmtShape(out.shape)}"` +
        (out.isContiguous ? "" : " (not contiguous)"),
    );
  }
  runProduct({ a, b, out, transA, transB, ...s, batch: sizeOf(s.batchShape), accumulate });
}

/**
 * A `[rows, cols]` view of a tensor whose rows are contiguous (copying when they are not).
 * @param cols Row length.
 */
export function rowsView(t: Tensor, cols: number): Tensor {
  const c = materialize(t);
  const rows = c.size / Math.max(cols, 1);
  const v = view(c, [rows, cols], [cols, 1], c.offset);
  if (c !== t) c.dispose();
  return v;
}

/**
 * A 2-D product over flattened rows with a shared right-hand matrix: `a` is `[m, k]`, `b` is
 * `[k, n]` (or `[n, k]` with `transB`), `out` is `[m, n]`.
 */
export function flatProblem(
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

/** Options of {@linkcode linearRaw}. */
export interface LinearRawOptions {
  /** Use `b` as `[N, K]`. */
  transB?: boolean;
  /** Apply GELU after the bias. */
  gelu?: boolean;
  /** With `gelu`: also return the pre-activation (the backward needs it). */
  keepPre?: boolean;
}

/**
 * `a·op(b) + bias` over the rows of `a`, optionally through GELU, without autograd: the bias and
 * the activation run in the matmul kernel's epilogue instead of separate passes over the output.
 * @param a Input `[..., K]`.
 * @param b Weight `[K, N]` (or `[N, K]` with `transB`).
 * @param bias Bias `[N]`, or null.
 * @returns The output `[..., N]` and, with `keepPre`, the pre-activation (else null).
 */
export function linearRaw(
  a: Tensor,
  b: Tensor,
  bias: Tensor | null,
  options: LinearRawOptions = {},
): { out: Tensor; pre: Tensor | null } {
  const transB = options.transB ?? false;
  const k = a.shape[a.rank - 1];
  const n = transB ? b.shape[0] : b.shape[1];
  const rows = a.size / Math.max(k, 1);
  const shape = [...a.shape.slice(0, -1), n];
  const flat = rowsView(a, k);
  const out = empty(shape, "float32", a.backend);
  const pre = options.gelu && options.keepPre ? empty(shape, "float32", a.backend) : null;
  const out2 = rowsView(out, n);
  const pre2 = pre === null ? null : rowsView(pre, n);
  runProduct({
    ...flatProblem(flat, b, out2, transB, rows, n, k),
    bias,
    gelu: options.gelu ?? false,
    pre: pre2,
  });
  for (const t of [flat, out2, pre2]) t?.dispose();
  return { out, pre };
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

/** Which matmul tiling the WebGPU backend uses (see `kernels/matmul.ts`). */
export type MatmulTiling = "auto" | "software" | "hardware";

let tiling: MatmulTiling = "auto";

/**
 * Overrides the matmul tiling policy: "auto" (default) picks the llvmpipe-tuned big register
 * tiles on software adapters and GPU-style tiles elsewhere. Tests use it to run the hardware
 * kernels on a software adapter.
 */
export function setMatmulTiling(t: MatmulTiling): void {
  tiling = t;
}

/** Runs one product on its backend (kernel on WebGPU, float64 loops on the CPU). */
export function runProduct(p: Problem): void {
  const { a, b, out, transA, transB, m, n, k, batch, shareA, shareB } = p;
  const bias = p.bias ?? null;
  const accumulate = p.accumulate ?? false;
  if (m * n * batch === 0) return;
  const backend = a.backend;
  if (backend.kind === "cpu") {
    cpuProduct(p);
    return;
  }
  if (k === 0 && bias === null && !p.gelu) {
    if (!accumulate) fill(out, 0);
    return;
  }
  let A = operand(a, transA, m, k, batch, shareA);
  const B = operand(b, transB, k, n, batch, shareB);
  if (A.trans && m * n * k >= TN_BY_TRANSPOSE_FLOPS) A = transposedOperand(A, m, k, batch);
  const software = tiling === "auto" ? backend.isFallbackAdapter : tiling === "software";
  const base = (software ? matmulConfigFor : hardwareMatmulConfigFor)(m, n, k, A.trans, B.trans);
  const pre = p.pre ?? null;
  const config = {
    ...base,
    vecA: base.vecA && A.stride % 4 === 0,
    vecB: base.vecB && B.stride % 4 === 0,
    vecC: base.vecC && out.offset % 4 === 0 && (pre === null || pre.offset % 4 === 0),
    bias: bias !== null,
    accumulate,
    gelu: p.gelu ?? false,
    keepPre: pre !== null,
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
    outputs: [out.binding(true), ...(pre === null ? [] : [pre.binding(true)])],
    workgroups: matmulWorkgroups(config, m, n, batch),
  });
  if (A.temp) A.t.dispose();
  if (B.temp) B.t.dispose();
  if (biasT !== bias) biasT!.dispose();
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

// Float64 reference of a product and its epilogue.
function cpuProduct(p: Problem): void {
  const { a, b, out, transA, transB, m, n, k, batch, shareA, shareB } = p;
  const av = a.storage.array!;
  const bv = b.storage.array!;
  const o = out.storage.array!;
  const bias = p.bias ?? null;
  const pre = p.pre ?? null;
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
        for (let q = 0; q < k; q++) {
          acc += av[aBase + i * aI + q * aP] * bv[bBase + q * bP + j * bJ];
        }
        const at = out.offset + z * m * n + i * n + j;
        if (bias !== null) acc += bias.storage.array![bias.offset + j * bias.strides[0]];
        if (p.accumulate) acc += o[at];
        if (p.gelu) {
          if (pre !== null) pre.storage.array![pre.offset + z * m * n + i * n + j] = acc;
          acc = 0.5 * acc * (1 + Math.tanh(SQRT_2_OVER_PI * (acc + 0.044715 * acc ** 3)));
        }
        o[at] = acc;
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
