/**
 * The fused linear op `x·W + b`: the bias is added in the matmul kernel's epilogue (no
 * separate broadcast add over the whole output), and the backward is two products and one
 * column sum, each added straight into its parameter's gradient when autograd offers a sink.
 * @module
 */
import { isGradEnabled } from "../autograd.ts";
import { type GradResult, record } from "./tape.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { foldedBackward, matmul } from "./matmul.ts";
import { linearRaw } from "./matmul_raw.ts";
import { sumToSink } from "./reduce.ts";
import { elementwise } from "./elementwise_raw.ts";

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
  check("linear", x, weight, bias);
  const { out } = linearRaw(x, weight, bias);
  return record(
    out,
    "linear",
    [x, weight, bias],
    (g, sinks) => paramGrads(x, weight, bias, g, sinks),
  );
}

/**
 * `gelu(x·W + b)` (GPT-2's tanh approximation) in one kernel: the bias and the activation run in
 * the matmul epilogue, which also keeps the pre-activation when a gradient will be needed. The
 * backward multiplies by GELU's derivative once, then continues as {@linkcode linear}'s.
 * @param x Input `[..., in]`.
 * @param weight Weight `[in, out]`.
 * @param bias Bias `[out]`.
 * @returns `[..., out]`.
 */
export function linearGelu(x: Tensor, weight: Tensor, bias: Tensor): Tensor {
  x.assertLive("linearGelu");
  weight.assertLive("linearGelu");
  check("linearGelu", x, weight, bias);
  const grad = isGradEnabled() && [x, weight, bias].some((t) => t.requiresGrad);
  const { out, pre } = linearRaw(x, weight, bias, { gelu: true, keepPre: grad });
  if (pre === null) return out;
  record(out, "linearGelu", [x, weight, bias], (g, sinks) => {
    const du = elementwise("gelu_grad", [pre, g]);
    pre.dispose();
    const grads = paramGrads(x, weight, bias, du, sinks);
    du.dispose();
    return grads;
  });
  return out;
}

// The three gradients of x·W + b for output gradient g, added into the sinks where possible.
function paramGrads(
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  g: Tensor,
  sinks: readonly (Tensor | null)[],
): GradResult[] {
  const [gx, gw] = foldedBackward(x, weight, false, g, sinks);
  // Leading-axes sum of a contiguous gradient: the column-reduction fast path.
  const gb = bias.requiresGrad ? sumToSink(g, bias.shape, sinks[2]) : null;
  return [gx, gw, gb];
}

function check(op: string, x: Tensor, weight: Tensor, bias: Tensor): void {
  bias.assertLive(op);
  if (x.dtype !== "float32" || weight.dtype !== "float32" || bias.dtype !== "float32") {
    throw new TypeError(`${op}() needs float tensors`);
  }
  if (x.backend !== weight.backend || x.backend !== bias.backend) {
    throw new TypeError(`${op}() got tensors on different backends`);
  }
  const k = x.shape[x.rank - 1];
  if (
    x.rank < 1 || weight.rank !== 2 || weight.shape[0] !== k || bias.rank !== 1 ||
    bias.shape[0] !== weight.shape[1]
  ) {
    throw new RangeError(
      `Cannot apply ${op} to "${fmtShape(x.shape)}" with weight "${fmtShape(weight.shape)}" ` +
        `and bias "${fmtShape(bias.shape)}"`,
    );
  }
}
