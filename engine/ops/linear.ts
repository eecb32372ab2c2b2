/**
 * The fused linear op `x·W + b`: the bias is added in the matmul kernel's epilogue (no
 * separate broadcast add over the whole output), and the backward is two products and one
 * column sum.
 * @module
 */
import { record } from "./tape.ts";
import { contiguousStrides, fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { materialize, view } from "./copy.ts";
import { matmul, matmulBiasRaw } from "./matmul.ts";
import { sumTo } from "./reduce.ts";

/**
 * `x·W + b` over the last axis of `x` (`W` stored `[in, out]`, HF GPT-2 `Conv1D` layout).
 * @param x Input `[..., in]`.
 * @param weight Weight `[in, out]`.
 * @param bias Bias `[out]`, or null for `x·W`.
 * @returns `[..., out]`.
 * @example A projection
 * ```ts ignore
 * const y = linear(x, w, b); // x [B, T, 128], w [128, 384], b [384] -> [B, T, 384]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  x.assertLive("linear");
  weight.assertLive("linear");
  if (bias === null) return matmul(x, weight);
  bias.assertLive("linear");
  if (x.dtype !== "float32" || weight.dtype !== "float32" || bias.dtype !== "float32") {
    throw new TypeError("linear() needs float tensors");
  }
  if (x.backend !== weight.backend || x.backend !== bias.backend) {
    throw new TypeError("linear() got tensors on different backends");
  }
  const k = x.shape[x.rank - 1];
  if (
    x.rank < 1 || weight.rank !== 2 || weight.shape[0] !== k || bias.rank !== 1 ||
    bias.shape[0] !== weight.shape[1]
  ) {
    throw new RangeError(
      `Cannot apply linear to "${fmtShape(x.shape)}" with weight "${fmtShape(weight.shape)}" ` +
        `and bias "${fmtShape(bias.shape)}"`,
    );
  }
  const n = weight.shape[1];
  const out = matmulBiasRaw(x, weight, bias);
  return record(out, "linear", [x, weight, bias], (g) => {
    const gFlat = rows(g, n);
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    if (x.requiresGrad) {
      const g2 = matmul(gFlat, weight, { transB: true });
      gx = view(g2, x.shape, contiguousStrides(x.shape), g2.offset);
      g2.dispose();
    }
    if (weight.requiresGrad) {
      const xFlat = rows(x, k);
      gw = matmul(xFlat, gFlat, { transA: true });
      xFlat.dispose();
    }
    // Leading-axes sum of a contiguous gradient: the column-reduction fast path.
    const gb = bias.requiresGrad ? sumTo(gFlat, bias.shape) : null;
    gFlat.dispose();
    return [gx, gw, gb];
  });
}

// A [rows, cols] view of a tensor whose rows are contiguous (copying when they are not).
function rows(t: Tensor, cols: number): Tensor {
  const c = materialize(t);
  const v = view(c, [c.size / Math.max(cols, 1), cols], [cols, 1], c.offset);
  if (c !== t) c.dispose();
  return v;
}
