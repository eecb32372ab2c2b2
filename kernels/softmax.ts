/**
 * Softmax and log-softmax over the rows of a contiguous `[rows, len]` block: the fused forward
 * (max-subtracted, so any finite logits are safe) and the fused backward.
 * @module
 */
import { bindingsWgsl } from "./common.ts";
import { accDecl, accTotal, rowKernelWgsl, rowKeySuffix, rowLoop, type RowPlan } from "./rows.ts";

/** Lowest finite f32: the start of a running max. */
export const F32_LOWEST = "-3.4028234663852886e38";

/** Row walks of the forward and backward kernels (for the loop budget of `rowPlan`). */
export const SOFTMAX_PASSES = { forward: 3, backward: 2 } as const;

/**
 * Cache key of a softmax kernel.
 * @param log Log-softmax instead of softmax.
 * @param backward The backward kernel.
 * @param plan Launch variant.
 */
export function softmaxKey(log: boolean, backward: boolean, plan: RowPlan): string {
  return `softmax:${log ? "log" : "prob"}:${backward ? "bwd" : "fwd"}:${rowKeySuffix(plan)}`;
}

/**
 * Forward WGSL. Uniforms: 0 rows, 1 len, 2 input offset. Bindings: `x` in, `y` out (offset 0).
 * Softmax writes `e^(x − max)` in the second pass and rescales it in the third, so each element
 * costs one `exp`; log-softmax writes `x − logsumexp`.
 * @param log Log-softmax instead of softmax.
 * @param plan Launch variant.
 */
export function softmaxForwardWgsl(log: boolean, plan: RowPlan): string {
  const decls = bindingsWgsl([{ name: "x", type: "V" }], [{ name: "y", type: "V" }]);
  const second = (j: string, k: number): string =>
    log
      ? `s${k} = s${k} + exp(x[xb + ${j}] - m);`
      : `let e = exp(x[xb + ${j}] - m); y[yb + ${j}] = e; s${k} = s${k} + e;`;
  const third = (j: string): string =>
    log ? `y[yb + ${j}] = x[xb + ${j}] - lse;` : `y[yb + ${j}] = y[yb + ${j}] * inv;`;
  return rowKernelWgsl(
    plan,
    decls,
    `  let xb = pu(2u) / W + row * n;
  let yb = row * n;
  ${accDecl("mv", `V(${F32_LOWEST})`)}
  ${rowLoop((j, k) => `mv${k} = max(mv${k}, x[xb + ${j}]);`)}
  let m = row_max(hmax(${accTotal("mv", "max")}));
  ${accDecl("s", "V(0.0)")}
  ${rowLoop(second)}
  let total = row_sum(hsum(${accTotal("s", "+")}));
  let lse = m + log(total);
  let inv = 1.0 / total;
  ${rowLoop(third)}`,
  );
}

/**
 * Backward WGSL. Uniforms: 0 rows, 1 len, 2 offset of `g`, 3 offset of `y`. Bindings: `y` (the
 * forward output) and `g` in, `dx` out (offset 0). Softmax: `dx = y ⊙ (g − Σ g⊙y)`; log-softmax:
 * `dx = g − e^y · Σ g`.
 * @param log Log-softmax instead of softmax.
 * @param plan Launch variant.
 */
export function softmaxBackwardWgsl(log: boolean, plan: RowPlan): string {
  const decls = bindingsWgsl([{ name: "y", type: "V" }, { name: "g", type: "V" }], [{
    name: "dx",
    type: "V",
  }]);
  const acc = (j: string, k: number): string =>
    log ? `sv${k} = sv${k} + g[gb + ${j}];` : `sv${k} = sv${k} + g[gb + ${j}] * y[yb + ${j}];`;
  const out = (j: string): string =>
    log
      ? `dx[ob + ${j}] = g[gb + ${j}] - exp(y[yb + ${j}]) * s;`
      : `dx[ob + ${j}] = y[yb + ${j}] * (g[gb + ${j}] - s);`;
  return rowKernelWgsl(
    plan,
    decls,
    `  let yb = pu(3u) / W + row * n;
  let gb = pu(2u) / W + row * n;
  let ob = row * n;
  ${accDecl("sv", "V(0.0)")}
  ${rowLoop(acc)}
  let s = row_sum(hsum(${accTotal("sv", "+")}));
  ${rowLoop(out)}`,
  );
}
