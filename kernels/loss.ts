/**
 * Fused softmax cross-entropy over the rows of contiguous `[N, V]` logits with int32 targets:
 * one pass per row computes logsumexp and the loss, a one-workgroup kernel reduces the row
 * losses and counts the targets on the device, and the backward kernel rebuilds
 * `softmax − onehot` from the logits and the saved logsumexp.
 *
 * A target is valid when it is not the ignore index and lies in `[0, V)`; every other target
 * (ignored or out of range) contributes zero loss and zero gradient and is not counted.
 * @module
 */
import { bindingsWgsl, PARAMS_WGSL } from "./common.ts";
import { accDecl, accTotal, rowKernelWgsl, rowKeySuffix, rowLoop, type RowPlan } from "./rows.ts";
import { F32_LOWEST } from "./softmax.ts";

/** How the row losses are combined. */
export type LossReduction = "mean" | "sum" | "none";

/** Row walks of the forward and backward kernels (for the loop budget of `rowPlan`). */
export const CROSS_ENTROPY_PASSES = { forward: 2, backward: 1 } as const;

/** Invocations of the reduction kernel (one workgroup). */
export const LOSS_REDUCE_WG = 256;

/**
 * Cache key of a cross-entropy kernel.
 * @param stage `fwd`, `reduce` or `bwd`.
 * @param config Reduction (backward) and plan (row kernels).
 */
export function crossEntropyKey(
  stage: "fwd" | "reduce" | "bwd",
  config: { reduction?: LossReduction; plan?: RowPlan } = {},
): string {
  const plan = config.plan ? `:${rowKeySuffix(config.plan)}` : "";
  return `xent:${stage}:${config.reduction ?? ""}${plan}`;
}

// `valid` for target `t` (i32) of a row of length `len`; uniform word 4 is the ignore index.
const VALID_WGSL = "let valid = t != pi(4u) && t >= 0i && t < i32(len);";

/**
 * Forward WGSL (scalar plans only: `n` is `len`). Uniforms: 0 rows, 1 V, 2 logits offset,
 * 3 targets offset, 4 ignore index (i32). Bindings: `x` (f32) and `tg` (i32) in; `loss` and
 * `lse` out (per row, offset 0).
 * @param plan Launch variant.
 */
export function crossEntropyForwardWgsl(plan: RowPlan): string {
  const decls = bindingsWgsl(
    [{ name: "x", type: "f32" }, { name: "tg", type: "i32" }],
    [{ name: "loss", type: "f32" }, { name: "lse", type: "f32" }],
  );
  return rowKernelWgsl(
    plan,
    decls,
    `  let xb = pu(2u) + row * len;
  ${accDecl("mv", `f32(${F32_LOWEST})`)}
  ${rowLoop((j, k) => `mv${k} = max(mv${k}, x[xb + ${j}]);`)}
  let m = row_max(${accTotal("mv", "max")});
  ${accDecl("sv", "f32(0.0)")}
  ${rowLoop((j, k) => `sv${k} = sv${k} + exp(x[xb + ${j}] - m);`)}
  let s = row_sum(${accTotal("sv", "+")});
  if (leader) {
    let l = m + log(s);
    let t = tg[pu(3u) + row];
    ${VALID_WGSL}
    var v: f32 = 0.0;
    if (valid) { v = l - x[xb + u32(t)]; }
    loss[row] = v;
    lse[row] = l;
  }`,
  );
}

/**
 * WGSL of the reduction of the row losses (one workgroup). Uniforms: 0 rows, 1 V,
 * 3 targets offset, 4 ignore index, 5 mean (1) or sum (0). Bindings: `loss` and `tg` in; `out`
 * (the scalar loss) and `inv` (1 / count for a mean, else 1; 0 when nothing is counted) out.
 */
export function crossEntropyReduceWgsl(): string {
  const wg = LOSS_REDUCE_WG;
  return `${PARAMS_WGSL}
${
    bindingsWgsl([{ name: "loss", type: "f32" }, { name: "tg", type: "i32" }], [
      { name: "out", type: "f32" },
      { name: "inv", type: "f32" },
    ])
  }
var<workgroup> red: array<vec2<f32>, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32) {
  let rows = pu(0u);
  let len = pu(1u);
  var acc = vec2<f32>(0.0, 0.0);
  for (var r = lid; r < rows; r = r + ${wg}u) {
    let t = tg[pu(3u) + r];
    ${VALID_WGSL}
    acc = acc + vec2<f32>(loss[r], select(0.0, 1.0, valid));
  }
  red[lid] = acc;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let total = red[0];
    var scale: f32 = 1.0;
    if (pu(5u) == 1u) { scale = select(0.0, 1.0 / total.y, total.y > 0.0); }
    out[0] = total.x * scale;
    inv[0] = scale;
  }
}`;
}

/**
 * Backward WGSL: `dx = (e^(x − lse) − onehot(t)) · c` with `c` the row's gradient scale:
 * `g[row]` ("none"), `g[0]` ("sum") or `g[0] · inv[0]` ("mean"), and 0 on invalid targets.
 * Scalar plans only. Uniforms: 0 rows, 1 V, 2 logits offset, 3 targets offset, 4 ignore index,
 * 5 offset of `g`.
 * Bindings: `x`, `lse`, `tg`, `g` (and `inv` for a mean) in; `dx` out (offset 0).
 * @param reduction Reduction of the forward.
 * @param plan Launch variant.
 */
export function crossEntropyBackwardWgsl(reduction: LossReduction, plan: RowPlan): string {
  const inputs = [
    { name: "x", type: "f32" },
    { name: "lse", type: "f32" },
    { name: "tg", type: "i32" },
    { name: "g", type: "f32" },
  ];
  if (reduction === "mean") inputs.push({ name: "inv", type: "f32" });
  const scale = reduction === "none"
    ? "g[pu(5u) + row]"
    : reduction === "sum"
    ? "g[pu(5u)]"
    : "g[pu(5u)] * inv[0]";
  return rowKernelWgsl(
    plan,
    bindingsWgsl(inputs, [{ name: "dx", type: "f32" }]),
    `  let xb = pu(2u) + row * len;
  let ob = row * len;
  let t = tg[pu(3u) + row];
  ${VALID_WGSL}
  var c: f32 = 0.0;
  if (valid) { c = ${scale}; }
  let l = lse[row];
  ${
      rowLoop((j) =>
        `dx[ob + ${j}] = (exp(x[xb + ${j}] - l) - select(0.0, 1.0, i32(${j}) == t)) * c;`
      )
    }`,
  );
}
