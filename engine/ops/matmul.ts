/**
 * Matrix multiplication (batched, with NN/NT/TN variants so backward never materialises a
 * transpose): the differentiable op. Its backward adds the products straight into the inputs'
 * gradient sinks when autograd offers them (a parameter's arena slot), so accumulating a weight
 * gradient costs no launch of its own. Kernels, layouts and the float64 reference live in
 * `matmul_raw.ts`.
 * @module
 */
import { empty } from "../alloc.ts";
import { ADDED, type GradResult, record, usableSink } from "./tape.ts";
import { contiguousStrides, fmtShape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { view } from "./copy.ts";
import { sumToSink } from "./reduce.ts";
import { flatProblem, matmulInto, productShape, rowsView, runProduct } from "./matmul_raw.ts";

export { setMatmulTiling } from "./matmul_raw.ts";
export type { MatmulTiling } from "./matmul_raw.ts";

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
  const s = productShape(a, b, transA, transB);
  const out = empty([...s.batchShape, s.m, s.n], "float32", a.backend);
  runProduct({ a, b, out, transA, transB, ...s, batch: sizeOf(s.batchShape) });
  return record(out, "matmul", [a, b], (g, sinks) => {
    let ga: GradResult = null;
    let gb: GradResult = null;
    if (a.requiresGrad) {
      // dA = g·op(b)ᵀ, or op(b)·gᵀ when a is used transposed.
      const [x, y, tx, ty] = transA ? [b, g, transB, true] : [g, b, false, !transB];
      ga = s.shareA
        ? reduced(matmulFresh(x, y, tx, ty), a, sinks[0])
        : into(x, y, tx, ty, sinks[0]);
    }
    if (b.requiresGrad) {
      const [x, y, tx, ty] = transB ? [g, a, true, transA] : [a, g, !transA, false];
      gb = s.shareB
        ? reduced(matmulFresh(x, y, tx, ty), b, sinks[1])
        : into(x, y, tx, ty, sinks[1]);
    }
    return [ga, gb];
  });
}

// `op(x)·op(y)` added into `sink` when there is one, else a new tensor.
function into(x: Tensor, y: Tensor, tx: boolean, ty: boolean, sink: Tensor | null): GradResult {
  if (usableSink(sink) !== null) {
    matmulInto(x, y, sink!, tx, ty, true);
    return ADDED;
  }
  return matmulFresh(x, y, tx, ty);
}

function matmulFresh(x: Tensor, y: Tensor, tx: boolean, ty: boolean): Tensor {
  const s = productShape(x, y, tx, ty);
  const out = empty([...s.batchShape, s.m, s.n], "float32", x.backend);
  runProduct({ a: x, b: y, out, transA: tx, transB: ty, ...s, batch: sizeOf(s.batchShape) });
  return out;
}

// A batched gradient of an operand shared over the batch: summed over the batch.
function reduced(g: Tensor, target: Tensor, sink: Tensor | null): GradResult {
  if (g.rank === target.rank) return g;
  const r = sumToSink(g, target.shape, sink);
  g.dispose();
  return r;
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
  runProduct(flatProblem(flat, b, out2, transB, rows, n, k));
  flat.dispose();
  out2.dispose();
  return record(out, "matmul", [a, b], (g, sinks) => foldedBackward(a, b, transB, g, sinks));
}

/**
 * The gradients of `a·op(b)` over flattened rows of `a` (`[..., K]`) with a 2-D `b`, added into
 * the sinks when given (`linear` shares this rule).
 * @param sinks Sinks of `a` and `b`.
 * @returns `[ga, gb]`.
 */
export function foldedBackward(
  a: Tensor,
  b: Tensor,
  transB: boolean,
  g: Tensor,
  sinks: readonly (Tensor | null)[],
): [GradResult, GradResult] {
  const k = a.shape[a.rank - 1];
  const n = g.shape[g.rank - 1];
  const gFlat = rowsView(g, n);
  let ga: GradResult = null;
  let gb: GradResult = null;
  if (a.requiresGrad) {
    const sink = usableSink(sinks[0]);
    if (sink !== null) {
      const s2 = rowsView(sink, k);
      matmulInto(gFlat, b, s2, false, !transB, true);
      s2.dispose();
      ga = ADDED;
    } else {
      const g2 = matmulFresh(gFlat, b, false, !transB);
      ga = view(g2, a.shape, contiguousStrides(a.shape), g2.offset);
      g2.dispose();
    }
  }
  if (b.requiresGrad) {
    const aFlat = rowsView(a, k);
    gb = transB
      ? into(gFlat, aFlat, true, false, sinks[1])
      : into(aFlat, gFlat, true, false, sinks[1]);
    aFlat.dispose();
  }
  gFlat.dispose();
  return [ga, gb];
}
