/**
 * Layer normalisation over the rows of a contiguous `[rows, D]` block: the fused forward (saving
 * per-row mean and reciprocal standard deviation), the fused input gradient, and the weight and
 * bias gradients as a two-stage column reduction (row chunks, then chunks) without atomics.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "./common.ts";
import { accDecl, accTotal, rowKernelWgsl, rowKeySuffix, rowLoop, type RowPlan } from "./rows.ts";

/** Row walks of the forward and input-gradient kernels (for the loop budget of `rowPlan`). */
export const LAYER_NORM_PASSES = { forward: 3, dx: 2 } as const;

/**
 * Cache key of a layer-norm kernel.
 * @param stage `fwd`, `dx`, `dparts` (per-chunk column sums) or `dparams` (their total).
 * @param plan Launch variant of the row kernels.
 */
export function layerNormKey(stage: "fwd" | "dx" | "dparts" | "dparams", plan?: RowPlan): string {
  return `layernorm:${stage}${plan ? `:${rowKeySuffix(plan)}` : ""}`;
}

/**
 * Forward WGSL (two passes for the variance, so large means do not cancel). Uniforms: 0 rows,
 * 1 D, 2 x offset, 3 weight offset, 4 bias offset, 5 eps (f32). Bindings: `x`, `w`, `b` in;
 * `y` (offset 0), `mean` and `rstd` (per row) out.
 * @param plan Launch variant.
 */
export function layerNormForwardWgsl(plan: RowPlan): string {
  const decls = bindingsWgsl(
    [{ name: "x", type: "V" }, { name: "w", type: "V" }, { name: "b", type: "V" }],
    [{ name: "y", type: "V" }, { name: "mean", type: "f32" }, { name: "rstd", type: "f32" }],
  );
  return rowKernelWgsl(
    plan,
    decls,
    `  let xb = pu(2u) / W + row * n;
  let wo = pu(3u) / W;
  let bo = pu(4u) / W;
  let yb = row * n;
  ${accDecl("sv", "V(0.0)")}
  ${rowLoop((j, k) => `sv${k} = sv${k} + x[xb + ${j}];`)}
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
 * 3 weight offset, 4 g offset. Bindings: `x`, `w`, `mean`, `rstd`, `g` in; `dx` out (offset 0).
 * @param plan Launch variant.
 */
export function layerNormDxWgsl(plan: RowPlan): string {
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
  let ob = row * n;
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
        `dx[ob + ${j}] = rs * (g[gb + ${j}] * w[wo + ${j}] - a.x - ` +
        `(x[xb + ${j}] - mu) * (rs * a.y));`
      )
    }`,
  );
}

/**
 * First stage of the weight and bias gradients: invocation `(chunk, column)` sums
 * `g · x̂` and `g` over its chunk's rows; neighbouring invocations read neighbouring columns.
 * Uniforms: 0 rows, 1 D, 2 x offset, 3 g offset, 4 rows per chunk, 5 chunks. Bindings: `x`,
 * `mean`, `rstd`, `g` in; `part` out, laid out `[chunks, 2, D]` (weight sums, then bias sums).
 */
export function layerNormPartsWgsl(): string {
  return `${PARAMS_WGSL}
${
    bindingsWgsl(["x", "mean", "rstd", "g"].map((name) => ({ name, type: "f32" })), [{
      name: "part",
      type: "f32",
    }])
  }
${MAIN_1D}
  let rows = pu(0u);
  let d = pu(1u);
  if (gi >= pu(5u) * d) { return; }
  let c = gi / d;
  let col = gi - c * d;
  let r0 = c * pu(4u);
  let r1 = min(r0 + pu(4u), rows);
  var sw: f32 = 0.0;
  var sb: f32 = 0.0;
  for (var r = r0; r < r1; r = r + 1u) {
    let gv = g[pu(3u) + r * d + col];
    sw = sw + gv * (x[pu(2u) + r * d + col] - mean[r]) * rstd[r];
    sb = sb + gv;
  }
  part[c * 2u * d + col] = sw;
  part[c * 2u * d + d + col] = sb;
}`;
}

/**
 * Second stage: `dw[col]` and `db[col]` are the sums of the chunk partials. Uniforms: 0 chunks,
 * 1 D. Bindings: `part` in; `dw`, `db` out (offset 0).
 */
export function layerNormParamsWgsl(): string {
  return `${PARAMS_WGSL}
${
    bindingsWgsl([{ name: "part", type: "f32" }], [{ name: "dw", type: "f32" }, {
      name: "db",
      type: "f32",
    }])
  }
${MAIN_1D}
  let chunks = pu(0u);
  let d = pu(1u);
  if (gi >= d) { return; }
  var sw: f32 = 0.0;
  var sb: f32 = 0.0;
  for (var c = 0u; c < chunks; c = c + 1u) {
    sw = sw + part[c * 2u * d + gi];
    sb = sb + part[c * 2u * d + d + gi];
  }
  dw[gi] = sw;
  db[gi] = sb;
}`;
}
