/**
 * Layer normalisation over the rows of a contiguous `[rows, D]` block: the fused forward (saving
 * per-row mean and reciprocal standard deviation), the fused input gradient, and the weight and
 * bias gradients as a two-stage column reduction (row chunks, then chunks) without atomics.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL, WG_1D } from "./common.ts";
import { accDecl, accTotal, rowKernelWgsl, rowKeySuffix, rowLoop, type RowPlan } from "./rows.ts";

/** Row walks of the forward and input-gradient kernels (for the loop budget of `rowPlan`). */
export const LAYER_NORM_PASSES = { forward: 3, dx: 2 } as const;

/**
 * Cache key of a layer-norm kernel.
 * @param stage `fwd`, `addfwd` (after a residual add), `dx`, `dparts` (per-chunk column sums),
 *   `dparams` (their total) or `dsum` (all rows in one pass); `+` adds into the destination.
 * @param plan Launch variant of the row kernels.
 */
export function layerNormKey(
  stage: "fwd" | "addfwd" | "dx" | "dx+" | "dparts" | "dparams" | "dparams+" | "dsum" | "dsum+",
  plan?: RowPlan | { vec: boolean },
): string {
  const suffix = plan === undefined
    ? ""
    : "tree" in plan
    ? `:${rowKeySuffix(plan as RowPlan)}`
    : `:v${plan.vec ? 4 : 1}`;
  return `layernorm:${stage}${suffix}`;
}

/**
 * Forward WGSL (two passes for the variance, so large means do not cancel). Uniforms: 0 rows,
 * 1 D, 2 x offset, 3 weight offset, 4 bias offset, 5 eps (f32). Bindings: `x`, `w`, `b` in;
 * `y` (offset 0), `mean` and `rstd` (per row) out.
 * @param plan Launch variant.
 */
export function layerNormForwardWgsl(plan: RowPlan): string {
  return forwardWgsl(plan, false);
}

/**
 * Residual add fused with the forward: `s = x + r` is written out (the new residual stream) and
 * normalised in the same pass. Uniforms as {@linkcode layerNormForwardWgsl}, plus 6 r offset.
 * Bindings: `x`, `r`, `w`, `b` in; `s` (offset 0), `y` (offset 0), `mean`, `rstd` out.
 * @param plan Launch variant.
 */
export function layerNormAddForwardWgsl(plan: RowPlan): string {
  return forwardWgsl(plan, true);
}

function forwardWgsl(plan: RowPlan, add: boolean): string {
  const ins = add
    ? [{ name: "x0", type: "V" }, { name: "r", type: "V" }]
    : [{ name: "x", type: "V" }];
  const outs = add ? [{ name: "x", type: "V" }] : [];
  const decls = bindingsWgsl(
    [...ins, { name: "w", type: "V" }, { name: "b", type: "V" }],
    [...outs, { name: "y", type: "V" }, { name: "mean", type: "f32" }, {
      name: "rstd",
      type: "f32",
    }],
  );
  // With the add, the sum is stored first and the later passes read it back from `x` (the
  // output binding), so every pass sees the same float32 values.
  const first = add
    ? `  let x0b = pu(2u) / W + row * n;
  let rb = pu(6u) / W + row * n;
  let xb = row * n;
  ${accDecl("sv", "V(0.0)")}
  ${
      rowLoop((j, k) =>
        `let v = x0[x0b + ${j}] + r[rb + ${j}]; x[xb + ${j}] = v; sv${k} = sv${k} + v;`
      )
    }`
    : `  let xb = pu(2u) / W + row * n;
  ${accDecl("sv", "V(0.0)")}
  ${rowLoop((j, k) => `sv${k} = sv${k} + x[xb + ${j}];`)}`;
  return rowKernelWgsl(
    plan,
    decls,
    `${first}
  let wo = pu(3u) / W;
  let bo = pu(4u) / W;
  let yb = row * n;
  let mu = row_sum(hsum(${accTotal("sv", "+")})) / f32(len);
  ${accDecl("vv", "V(0.0)")}
  ${rowLoop((j, k) => `let d = x[xb + ${j}] - mu; vv${k} = vv${k} + d * d;`)}
  let rs = inverseSqrt(row_sum(hsum(${accTotal("vv", "+")})) / f32(len) + pf(5u));
  ${rowLoop((j) => `y[yb + ${j}] = (x[xb + ${j}] - mu) * rs * w[wo + ${j}] + b[bo + ${j}];`)}
  if (leader) {
    mean[row] = mu;
    rstd[row] = rs;
  }`,
  );
}

/**
 * Input-gradient WGSL: with `x̂ = (x − μ)·rstd` and `h = g ⊙ w`,
 * `dx = rstd · (h − mean(h) − x̂ · mean(h ⊙ x̂))`. Uniforms: 0 rows, 1 D, 2 x offset,
 * 3 weight offset, 4 g offset, 5 dx offset. Bindings: `x`, `w`, `mean`, `rstd`, `g` in; `dx` out.
 * @param plan Launch variant.
 * @param accumulate Add into `dx` (a gradient already collected there, e.g. the residual
 *   stream's) instead of overwriting it.
 */
export function layerNormDxWgsl(plan: RowPlan, accumulate = false): string {
  const decls = bindingsWgsl(
    [
      { name: "x", type: "V" },
      { name: "w", type: "V" },
      { name: "mean", type: "f32" },
      { name: "rstd", type: "f32" },
      { name: "g", type: "V" },
    ],
    [{ name: "dx", type: "V" }],
  );
  return rowKernelWgsl(
    plan,
    decls,
    `  let xb = pu(2u) / W + row * n;
  let wo = pu(3u) / W;
  let gb = pu(4u) / W + row * n;
  let ob = pu(5u) / W + row * n;
  let mu = mean[row];
  let rs = rstd[row];
  ${accDecl("sh", "V(0.0)")}
  ${accDecl("shx", "V(0.0)")}
  ${
      rowLoop((j, k) =>
        `let h = g[gb + ${j}] * w[wo + ${j}]; sh${k} = sh${k} + h; ` +
        `shx${k} = shx${k} + h * (x[xb + ${j}] - mu);`
      )
    }
  let a = row_sum2(vec2<f32>(hsum(${accTotal("sh", "+")}), hsum(${
      accTotal("shx", "+")
    }) * rs)) / f32(len);
  ${
      rowLoop((j) =>
        `dx[ob + ${j}] = ${
          accumulate ? `dx[ob + ${j}] + ` : ""
        }rs * (g[gb + ${j}] * w[wo + ${j}] - a.x - ` +
        `(x[xb + ${j}] - mu) * (rs * a.y));`
      )
    }`,
  );
}

/** How the first stage of the parameter gradients writes its sums. */
export interface LayerNormPartsConfig {
  /** Four columns per invocation (D and the x and g offsets multiples of 4). */
  vec: boolean;
  /**
   * One chunk covering every row, summed straight into `dw` and `db` (no second stage), in
   * workgroups of `wg` invocations: on a CPU adapter a column per invocation already spreads
   * over the cores. Null for the chunk partials.
   */
  direct: { accumulate: boolean; wg: number } | null;
}

/**
 * First stage of the weight and bias gradients: invocation `(chunk, column)` sums `g · x̂` and
 * `g` over its chunk's rows; neighbouring invocations read neighbouring columns, four at a time
 * with `vec`. Uniforms: 0 rows, 1 D, 2 x offset, 3 g offset, 4 rows per chunk, 5 chunks, and in
 * direct mode 6 dw and 7 db offsets (offsets and D in elements). Bindings: `x`, `mean`, `rstd`,
 * `g` in; `part` out, laid out `[chunks, 2, D]` (weight sums, then bias sums), or in direct mode
 * `dw` and `db`.
 */
export function layerNormPartsWgsl(c: LayerNormPartsConfig): string {
  const t = c.vec ? "vec4<f32>" : "f32";
  const w = c.vec ? 4 : 1;
  const outs = c.direct === null
    ? [{ name: "part", type: t }]
    : [{ name: "dw", type: t }, { name: "db", type: t }];
  const add = (o: string, i: string): string => (c.direct?.accumulate ? `${o}[${i}] + ` : "");
  const store = c.direct === null
    ? `  part[c * 2u * d + col] = sw;
  part[c * 2u * d + d + col] = sb;`
    : `  let iw = pu(6u) / ${w}u + col;
  let ib = pu(7u) / ${w}u + col;
  dw[iw] = ${add("dw", "iw")}sw;
  db[ib] = ${add("db", "ib")}sb;`;
  const wg = c.direct?.wg ?? WG_1D;
  return `${PARAMS_WGSL}
${
    bindingsWgsl([
      { name: "x", type: t },
      { name: "mean", type: "f32" },
      { name: "rstd", type: "f32" },
      { name: "g", type: t },
    ], outs)
  }
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let gi = (wid.y * nwg.x + wid.x) * ${wg}u + lid;
  let rows = pu(0u);
  let d = pu(1u) / ${w}u;
  if (gi >= pu(5u) * d) { return; }
  let c = gi / d;
  let col = gi - c * d;
  let r0 = c * pu(4u);
  let r1 = min(r0 + pu(4u), rows);
  let xo = pu(2u) / ${w}u + col;
  let go = pu(3u) / ${w}u + col;
  var sw = ${t}(0.0);
  var sb = ${t}(0.0);
  for (var r = r0; r < r1; r = r + 1u) {
    let gv = g[go + r * d];
    sw = sw + gv * (x[xo + r * d] - mean[r]) * rstd[r];
    sb = sb + gv;
  }
${store}
}`;
}

/**
 * Second stage: `dw[col]` and `db[col]` are the sums of the chunk partials (added to what they
 * hold with `accumulate`). Uniforms: 0 chunks, 1 D, 2 dw offset, 3 db offset (elements).
 * Bindings: `part` in; `dw`, `db` out.
 */
export function layerNormParamsWgsl(vec: boolean, accumulate: boolean): string {
  const t = vec ? "vec4<f32>" : "f32";
  const w = vec ? 4 : 1;
  const add = (o: string): string => (accumulate ? `${o}[i${o}] + ` : "");
  return `${PARAMS_WGSL}
${bindingsWgsl([{ name: "part", type: t }], [{ name: "dw", type: t }, { name: "db", type: t }])}
${MAIN_1D}
  let chunks = pu(0u);
  let d = pu(1u) / ${w}u;
  if (gi >= d) { return; }
  var sw = ${t}(0.0);
  var sb = ${t}(0.0);
  for (var c = 0u; c < chunks; c = c + 1u) {
    sw = sw + part[c * 2u * d + gi];
    sb = sb + part[c * 2u * d + d + gi];
  }
  let idw = pu(2u) / ${w}u + gi;
  let idb = pu(3u) / ${w}u + gi;
  dw[idw] = ${add("dw")}sw;
  db[idb] = ${add("db")}sb;
}`;
}
