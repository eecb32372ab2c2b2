/**
 * Fused causal attention kernels (FlashAttention-style) for `[B, H, T, hd]` operands read through
 * their strides: a forward that computes scores, an online softmax and the weighted sum in one
 * pass and saves each row's logsumexp, and a two-kernel backward that recomputes probabilities
 * from q, k and the logsumexp (one kernel owning query rows for dq, one owning key rows for dk
 * and dv), so no `[T, T]` tensor ever exists.
 *
 * Shaped for lavapipe, where a workgroup is one CPU thread running its invocations 8 at a time in
 * SIMD lanes and every buffer load is a per-lane scalar loop (~20 cycles a lane, a vec4 barely
 * dearer than an f32, and each load a branchy loop that also slows LLVM down) while arithmetic is
 * 8-wide. So each invocation owns `tq` rows (lane `l`, row `r` is row `r0 + lanes·r + l` of the
 * block) and reuses every streamed row of the other operand for all of them; rows are read as
 * vec4s and the head dimension is unrolled into vec4 registers (a power-of-two capacity whose
 * padding slots read a clamped column and are zero in owned rows); the streamed index is the same
 * in every lane, and the causal mask is a `select`. The triangle is split so that only the
 * `lanes × lanes` diagonal sub-blocks pay for masked pairs.
 *
 * Strided operands must have unit column stride, 4-aligned offsets and strides, and columns
 * `hd .. 4⌈hd/4⌉` that read as zero (the op copies any other view into a zero-padded buffer).
 * @module
 */
import { bindingsWgsl, PARAMS_WGSL } from "./common.ts";
import {
  type AttentionConfig,
  Code,
  dotAll,
  loadDense,
  loadStrided,
  NEG,
  prologue,
  rowType,
  slots,
  storeDense,
  sweep,
  validate,
  ZERO,
} from "./attention_emit.ts";

/** The three kernels. */
export type AttentionKernel = "fwd" | "bwdq" | "bwdkv";

/** Cache key: the kernel plus every static knob. */
export function attentionKey(kernel: AttentionKernel, c: AttentionConfig): string {
  return `attention:${kernel}:d${c.d}:l${c.lanes}:r${c.tq}:${c.vecRows ? "o4" : "o1"}`;
}

/**
 * WGSL of the forward kernel. Bindings: 1 q, 2 k, 3 v (strided), then outputs 4 and 5, two
 * disjoint ranges of the one output storage: 4 as rows for the result (in the row layout of
 * `ATTN_LAYOUT.dense`), 5 as f32 for the `[B·H·T]` logsumexp of each row's scaled scores, from
 * element `pu(6)` of its range. Invocations own query rows and stream keys through an online
 * softmax.
 */
export function attentionForwardWgsl(c: AttentionConfig): string {
  validate(c);
  const t = "vec4<f32>";
  const n = slots(c);
  const o = new Code();
  o.e(`// ${attentionKey("fwd", c)}`, PARAMS_WGSL);
  o.e(bindingsWgsl([{ name: "Q", type: t }, { name: "K", type: t }, { name: "V", type: t }], [
    { name: "O", type: rowType(c) },
    { name: "LSE", type: "f32" },
  ]));
  prologue(o, c, ["Q", "K", "V"], ["O"]);
  for (let r = 0; r < c.tq; r++) {
    loadStrided(o, c, "  ", "Q", `Qb + ic${r} * Qt`, `q${r}_`, true, " * scale");
    for (let s = 0; s < n; s++) o.e(`  var a${r}_${s} = ${ZERO};`);
    o.e(`  var m${r} = ${NEG};`, `  var l${r} = 0.0;`);
  }
  sweep(o, c, {
    owner: "query",
    load: (o, ind) => {
      loadStrided(o, c, ind, "K", "Kb + jc * Kt", "k", false);
      loadStrided(o, c, ind, "V", "Vb + jc * Vt", "v", false);
    },
    update: (o, ind, r, mask) => {
      // One exp per pair: e = exp(-|s - m|) is the new key's weight when s ≤ m, else the
      // rescale of the old sum.
      const s = dotAll(c, `q${r}_`, "k");
      o.e(`${ind}{`);
      o.e(`${ind}  let s = ${mask === null ? s : `select(${NEG}, ${s}, ${mask})`};`);
      o.e(`${ind}  let e = exp(-abs(s - m${r}));`);
      o.e(`${ind}  let below = s <= m${r};`);
      o.e(`${ind}  let cr = select(e, 1.0, below);`);
      o.e(
        `${ind}  let p = ${
          mask === null ? "select(1.0, e, below)" : `select(0.0, select(1.0, e, below), ${mask})`
        };`,
      );
      o.e(`${ind}  m${r} = max(m${r}, s);`);
      o.e(`${ind}  l${r} = l${r} * cr + p;`);
      for (let k = 0; k < n; k++) o.e(`${ind}  a${r}_${k} = a${r}_${k} * cr + p * v${k};`);
      o.e(`${ind}}`);
    },
  });
  for (let r = 0; r < c.tq; r++) {
    o.e(`  if (i${r} < T) {`);
    o.e(`    let inv${r} = 1.0 / l${r};`);
    storeDense(o, c, "    ", "O", `i${r}`, `a${r}_`, ` * inv${r}`);
    o.e(`    LSE[pu(6u) + rowBase + i${r}] = m${r} + log(l${r});`);
    o.e(`  }`);
  }
  o.e(`}`);
  return o.toString();
}

/**
 * WGSL of the first backward kernel: invocations own query rows, compute
 * `D_i = Σ_d dO_id · O_id`, and stream keys to accumulate `dq_i = scale · Σ_j p_ij (dO_i·v_j − D_i) k_j`.
 * Bindings: 1 q, 2 k, 3 v, 4 g (strided upstream gradient), 5 and 6 the forward output storage
 * (as rows, and as f32 for the logsumexp tail); outputs 7 dq (its row layout) and 8 `(lse_i, D_i)`
 * pairs (`[B·H·T]` vec2s) for the second kernel.
 */
export function attentionBackwardQWgsl(c: AttentionConfig): string {
  validate(c);
  const t = "vec4<f32>";
  const n = slots(c);
  const o = new Code();
  o.e(`// ${attentionKey("bwdq", c)}`, PARAMS_WGSL);
  o.e(bindingsWgsl(
    [
      { name: "Q", type: t },
      { name: "K", type: t },
      { name: "V", type: t },
      { name: "G", type: t },
      { name: "O", type: rowType(c) },
      { name: "LSE", type: "f32" },
    ],
    [{ name: "DQ", type: rowType(c) }, { name: "LD", type: "vec2<f32>" }],
  ));
  prologue(o, c, ["Q", "K", "V", "G"], ["O", "DQ"]);
  for (let r = 0; r < c.tq; r++) {
    loadStrided(o, c, "  ", "Q", `Qb + ic${r} * Qt`, `q${r}_`, true, " * scale");
    loadStrided(o, c, "  ", "G", `Gb + ic${r} * Gt`, `g${r}_`, true);
    loadDense(o, c, "O", `ic${r}`, `o${r}_`);
    o.e(`  let D${r} = ${dotAll(c, `g${r}_`, `o${r}_`)};`);
    o.e(`  let lse${r} = LSE[pu(6u) + rowBase + ic${r}];`);
    for (let s = 0; s < n; s++) o.e(`  var dq${r}_${s} = ${ZERO};`);
  }
  sweep(o, c, {
    owner: "query",
    load: (o, ind) => {
      loadStrided(o, c, ind, "K", "Kb + jc * Kt", "k", false);
      loadStrided(o, c, ind, "V", "Vb + jc * Vt", "v", false);
    },
    update: (o, ind, r, mask) => {
      const p = `exp(${dotAll(c, `q${r}_`, "k")} - lse${r})`;
      o.e(`${ind}{`);
      o.e(`${ind}  let p = ${mask === null ? p : `select(0.0, ${p}, ${mask})`};`);
      o.e(`${ind}  let ds = p * (${dotAll(c, `g${r}_`, "v")} - D${r});`);
      for (let k = 0; k < n; k++) o.e(`${ind}  dq${r}_${k} = dq${r}_${k} + ds * k${k};`);
      o.e(`${ind}}`);
    },
  });
  for (let r = 0; r < c.tq; r++) {
    o.e(`  if (i${r} < T) {`);
    storeDense(o, c, "    ", "DQ", `i${r}`, `dq${r}_`, " * scale");
    o.e(`    LD[rowBase + i${r}] = vec2<f32>(lse${r}, D${r});`);
    o.e(`  }`);
  }
  o.e(`}`);
  return o.toString();
}

/**
 * WGSL of the second backward kernel: invocations own key rows and stream the queries that see
 * them, accumulating `dv_j = Σ_i p_ij dO_i` and `dk_j = scale · Σ_i p_ij (dO_i·v_j − D_i) q_i`.
 * Bindings: 1 q, 2 k, 3 v, 4 g (strided), 5 the `(lse_i, D_i)` pairs written by the first
 * kernel; output 6 the one storage of dk and dv, each in its row layout (one binding: browsers
 * reject two writable bindings of one storage, and dk and dv may be thirds of the same rows).
 */
export function attentionBackwardKVWgsl(c: AttentionConfig): string {
  validate(c);
  const t = "vec4<f32>";
  const n = slots(c);
  const o = new Code();
  o.e(`// ${attentionKey("bwdkv", c)}`, PARAMS_WGSL);
  o.e(bindingsWgsl(
    [
      { name: "Q", type: t },
      { name: "K", type: t },
      { name: "V", type: t },
      { name: "G", type: t },
      { name: "LD", type: "vec2<f32>" },
    ],
    [{ name: "DKV", type: rowType(c) }],
  ));
  prologue(o, c, ["Q", "K", "V", "G"], ["DK", "DV"]);
  for (let r = 0; r < c.tq; r++) {
    loadStrided(o, c, "  ", "K", `Kb + ic${r} * Kt`, `k${r}_`, true, " * scale");
    loadStrided(o, c, "  ", "V", `Vb + ic${r} * Vt`, `v${r}_`, true);
    for (let s = 0; s < n; s++) {
      o.e(`  var dk${r}_${s} = ${ZERO};`, `  var dv${r}_${s} = ${ZERO};`);
    }
  }
  sweep(o, c, {
    owner: "key",
    load: (o, ind) => {
      loadStrided(o, c, ind, "Q", "Qb + jc * Qt", "q", false);
      loadStrided(o, c, ind, "G", "Gb + jc * Gt", "g", false);
      // One load for both per-query scalars.
      o.e(`${ind}let ld = LD[rowBase + jc];`);
      o.e(`${ind}let lse = ld.x;`);
      o.e(`${ind}let Dj = ld.y;`);
    },
    update: (o, ind, r, mask) => {
      const p = `exp(${dotAll(c, `k${r}_`, "q")} - lse)`;
      o.e(`${ind}{`);
      o.e(`${ind}  let p = ${mask === null ? p : `select(0.0, ${p}, ${mask})`};`);
      o.e(`${ind}  let ds = p * (${dotAll(c, `v${r}_`, "g")} - Dj);`);
      for (let k = 0; k < n; k++) {
        o.e(`${ind}  dv${r}_${k} = dv${r}_${k} + p * g${k};`);
        o.e(`${ind}  dk${r}_${k} = dk${r}_${k} + ds * q${k};`);
      }
      o.e(`${ind}}`);
    },
  });
  for (let r = 0; r < c.tq; r++) {
    o.e(`  if (i${r} < T) {`);
    storeDense(o, c, "    ", "DK", `i${r}`, `dk${r}_`, " * scale", "DKV");
    storeDense(o, c, "    ", "DV", `i${r}`, `dv${r}_`, "", "DKV");
    o.e(`  }`);
  }
  o.e(`}`);
  return o.toString();
}
