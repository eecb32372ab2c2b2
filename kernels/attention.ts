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

/** Static configuration of one attention pipeline (no problem sizes). */
export interface AttentionConfig {
  /** Head-dimension capacity: a power of two from 4 to 128, at least `4⌈hd/4⌉`. */
  d: number;
  /** Invocations per workgroup (SIMD lanes). */
  lanes: number;
  /** Rows owned by each invocation (a block covers `lanes · tq` rows). */
  tq: number;
  /**
   * `hd % 4 == 0`: contiguous `[rows, hd]` operands (results, gradients, the forward output read
   * back) are accessed as vec4s. Stores are per-lane loops too, so this cuts them fourfold.
   */
  vecRows: boolean;
}

/** The three kernels. */
export type AttentionKernel = "fwd" | "bwdq" | "bwdkv";

/**
 * Uniform layout (word indices): 0 T, 1 H, 2 hd, 3 row blocks per (batch, head), 4 scale (f32),
 * 5 workgroups in use (B·H·blocks), 6 element offset of the logsumexp tail of the output storage,
 * 7 unused, then per strided operand k (q, k, v, g = output gradient) 4 words at 8 + 4k: element
 * offset, batch, head and time strides (all multiples of 4). Other operands are contiguous
 * `[B·H·T, hd]` (or `[B·H·T]`).
 */
export const ATTN_LAYOUT: { readonly operand: (k: number) => number } = {
  operand: (k: number): number => 8 + 4 * k,
};

/** Most negative finite f32: the score of a masked pair (its exp relative to any real max is 0). */
const NEG = "-3.4028234663852886e38";

const STRIDED = ["Q", "K", "V", "G"] as const;
type Strided = (typeof STRIDED)[number];

/** Collects WGSL lines. */
class Code {
  readonly lines: string[] = [];
  /**
   * Appends lines.
   * @param s The lines.
   */
  e(...s: string[]): void {
    this.lines.push(...s);
  }
  /** @returns The source. */
  toString(): string {
    return this.lines.join("\n") + "\n";
  }
}

/** vec4 register slots per row. */
function slots(c: AttentionConfig): number {
  return c.d / 4;
}

const ZERO = "vec4<f32>(0.0)";

/** `Σ_s dot(a<s>, b<s>)` as one expression. */
function dotAll(c: AttentionConfig, a: string, b: string): string {
  const terms: string[] = [];
  for (let s = 0; s < slots(c); s++) terms.push(`dot(${a}${s}, ${b}${s})`);
  return terms.join(" + ");
}

function validate(c: AttentionConfig): void {
  if (![4, 8, 16, 32, 64, 128].includes(c.d)) {
    throw new RangeError(
      `Cannot build attention: head capacity "${c.d}" is not a power of two in 4..128`,
    );
  }
  if (!(Number.isInteger(c.lanes) && c.lanes >= 1 && c.lanes <= 64)) {
    throw new RangeError(`Cannot build attention: "${c.lanes}" lanes is not 1..64`);
  }
  if (!(Number.isInteger(c.tq) && c.tq >= 1 && c.tq <= 16)) {
    throw new RangeError(`Cannot build attention: "${c.tq}" rows per lane is not 1..16`);
  }
}

/**
 * Cache key: the kernel plus every static knob.
 * @param kernel Which kernel.
 * @param c Configuration.
 * @returns The key.
 */
export function attentionKey(kernel: AttentionKernel, c: AttentionConfig): string {
  return `attention:${kernel}:d${c.d}:l${c.lanes}:r${c.tq}:${c.vecRows ? "o4" : "o1"}`;
}

/**
 * Rows covered by one workgroup.
 * @param c Configuration.
 * @returns `lanes · tq`.
 */
export function attentionBlockRows(c: AttentionConfig): number {
  return c.lanes * c.tq;
}

/**
 * Emits the entry point header and the common prologue: workgroup → (batch·head, row block),
 * sizes, each strided operand's base offset `<X>b` and time stride `<X>t`, and the per-slot
 * column offsets.
 */
function prologue(o: Code, c: AttentionConfig, used: readonly Strided[]): void {
  o.e(
    `@compute @workgroup_size(${c.lanes})`,
    `fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,`,
    `        @builtin(num_workgroups) nwg: vec3<u32>) {`,
    `  let grp = wid.y * nwg.x + wid.x;`,
    `  if (grp >= pu(5u)) { return; }`,
    `  let T = pu(0u); let H = pu(1u); let hd = pu(2u); let scale = pf(4u);`,
    `  let bh = grp / pu(3u);`,
    `  let r0 = (grp % pu(3u)) * ${attentionBlockRows(c)}u;`,
    `  let bi = bh / H; let hi = bh % H;`,
    `  let rowBase = bh * T;`,
  );
  // vec4 column of each register slot, clamped into the row so that padding slots read real
  // values; `vm<s>` marks the slots that hold columns of the head.
  o.e(`  let last = ((hd + 3u) >> 2u) - 1u;`);
  for (const x of used) {
    const at = ATTN_LAYOUT.operand(STRIDED.indexOf(x));
    o.e(`  let ${x}b = (pu(${at}u) + bi * pu(${at + 1}u) + hi * pu(${at + 2}u)) >> 2u;`);
    o.e(`  let ${x}t = pu(${at + 3}u) >> 2u;`);
  }
  for (let s = 0; s < slots(c); s++) {
    o.e(`  let vm${s} = ${s}u <= last;`);
    o.e(`  let c${s} = min(${s}u, last);`);
  }
  // Owned rows: index and a clamped copy for loads.
  for (let r = 0; r < c.tq; r++) {
    o.e(`  let i${r} = r0 + ${r * c.lanes}u + lid;`);
    o.e(`  let ic${r} = min(i${r}, T - 1u);`);
  }
}

/**
 * Loads row `row` (vec4 offset expression) of strided operand `x` into `let <name><s>`.
 * Streamed rows keep the clamped duplicates in padding slots; owned rows (`pad`) zero them, so
 * every dot product of an owned row with a streamed row ignores the padding.
 */
function loadStrided(
  o: Code,
  c: AttentionConfig,
  ind: string,
  x: Strided,
  row: string,
  name: string,
  pad: boolean,
  mul = "",
): void {
  o.e(`${ind}let ${name}_r = ${row};`);
  for (let s = 0; s < slots(c); s++) {
    const v = `${x}[${name}_r + c${s}]${mul}`;
    o.e(`${ind}let ${name}${s} = ${pad ? `select(${ZERO}, ${v}, vm${s})` : v};`);
  }
}

/** WGSL element type of contiguous `[rows, hd]` operands. */
function rowType(c: AttentionConfig): string {
  return c.vecRows ? "vec4<f32>" : "f32";
}

/** Loads row `row` of a contiguous `[rows, hd]` operand `x` into `let <name><s>`. */
function loadDense(o: Code, c: AttentionConfig, x: string, row: string, name: string): void {
  if (c.vecRows) {
    o.e(`  let ${name}_r = ((${row}) * hd) >> 2u;`);
    for (let s = 0; s < slots(c); s++) o.e(`  let ${name}${s} = ${x}[${name}_r + c${s}];`);
    return;
  }
  o.e(`  let ${name}_r = (${row}) * hd;`);
  for (let s = 0; s < slots(c); s++) {
    const parts = [0, 1, 2, 3].map((q) => `${x}[${name}_r + min(${4 * s + q}u, hd - 1u)]`);
    o.e(`  let ${name}${s} = vec4<f32>(${parts.join(", ")});`);
  }
}

/** Stores registers `<name><s>` times `mul` into row `row` of a contiguous `[rows, hd]` output. */
function storeDense(
  o: Code,
  c: AttentionConfig,
  ind: string,
  out: string,
  row: string,
  name: string,
  mul: string,
): void {
  if (c.vecRows) {
    o.e(`${ind}let ${name}_o = ((${row}) * hd) >> 2u;`);
    for (let s = 0; s < slots(c); s++) {
      o.e(`${ind}if (vm${s}) { ${out}[${name}_o + ${s}u] = ${name}${s}${mul}; }`);
    }
    return;
  }
  const comps = ["x", "y", "z", "w"];
  o.e(`${ind}let ${name}_o = (${row}) * hd;`);
  for (let s = 0; s < slots(c); s++) {
    for (let q = 0; q < 4; q++) {
      const col = 4 * s + q;
      const v = `${name}${s}.${comps[q]}${mul}`;
      o.e(`${ind}if (${col}u < hd) { ${out}[${name}_o + ${col}u] = ${v}; }`);
    }
  }
}

/** How one kernel streams the other sequence axis past the rows it owns. */
interface Stream {
  /** Owned rows are queries (stream keys j ≤ i) or keys (stream queries i ≥ j). */
  owner: "query" | "key";
  /** Emits the loads of streamed row `jc` (clamped index) at indent `ind`. */
  load: (o: Code, ind: string) => void;
  /** Emits the update of owned row `r`; `mask` is a WGSL bool or null when every pair counts. */
  update: (o: Code, ind: string, r: number, mask: string | null) => void;
}

/**
 * Emits the causal sweep: the full rectangle outside the block's diagonal (no masks), then the
 * `tq` diagonal sub-blocks of `lanes` streamed rows, each updating only the owned rows it can
 * reach and masking only the one that straddles the diagonal.
 */
function sweep(o: Code, c: AttentionConfig, st: Stream): void {
  const L = c.lanes;
  const full = (from: string, to: string): void => {
    o.e(`  for (var j = ${from}; j < ${to}; j = j + 1u) {`);
    o.e(`    let jc = j;`);
    st.load(o, "    ");
    for (let r = 0; r < c.tq; r++) st.update(o, "    ", r, null);
    o.e(`  }`);
  };
  if (st.owner === "query") full("0u", "r0");
  for (let d = 0; d < c.tq; d++) {
    o.e(`  if (r0 + ${d * L}u < T) {`);
    o.e(`    for (var u = 0u; u < ${L}u; u = u + 1u) {`);
    o.e(`      let j = r0 + ${d * L}u + u;`);
    o.e(`      let jc = min(j, T - 1u);`);
    st.load(o, "      ");
    if (st.owner === "query") {
      // Keys past T only reach rows past T, which are never stored.
      for (let r = d; r < c.tq; r++) st.update(o, "      ", r, r === d ? "u <= lid" : null);
    } else {
      // Queries past T would repeat row T - 1: mask them for every owned row.
      for (let r = 0; r <= d; r++) {
        st.update(o, "      ", r, r === d ? "u >= lid && j < T" : "j < T");
      }
    }
    o.e(`    }`);
    o.e(`  }`);
  }
  if (st.owner === "key") full(`r0 + ${c.tq * L}u`, "T");
}

/**
 * WGSL of the forward kernel. Bindings: 1 q, 2 k, 3 v (strided), then outputs 4 and 5, both the
 * one output storage: 4 as rows for the contiguous `[B·H·T, hd]` result, 5 as f32 for the
 * `[B·H·T]` logsumexp of each row's scaled scores at element `pu(6)`. Invocations own query rows
 * and stream keys through an online softmax.
 * @param c Configuration.
 * @returns WGSL source.
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
  prologue(o, c, ["Q", "K", "V"]);
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
    storeDense(o, c, "    ", "O", `rowBase + i${r}`, `a${r}_`, ` * inv${r}`);
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
 * (as rows, and as f32 for the logsumexp tail); outputs 7 dq (contiguous) and 8 `(lse_i, D_i)`
 * pairs (`[B·H·T]` vec2s) for the second kernel.
 * @param c Configuration.
 * @returns WGSL source.
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
  prologue(o, c, ["Q", "K", "V", "G"]);
  for (let r = 0; r < c.tq; r++) {
    loadStrided(o, c, "  ", "Q", `Qb + ic${r} * Qt`, `q${r}_`, true, " * scale");
    loadStrided(o, c, "  ", "G", `Gb + ic${r} * Gt`, `g${r}_`, true);
    loadDense(o, c, "O", `rowBase + ic${r}`, `o${r}_`);
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
    storeDense(o, c, "    ", "DQ", `rowBase + i${r}`, `dq${r}_`, " * scale");
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
 * kernel; outputs 6 dk and 7 dv (contiguous).
 * @param c Configuration.
 * @returns WGSL source.
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
    [{ name: "DK", type: rowType(c) }, { name: "DV", type: rowType(c) }],
  ));
  prologue(o, c, ["Q", "K", "V", "G"]);
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
    storeDense(o, c, "    ", "DK", `rowBase + i${r}`, `dk${r}_`, " * scale");
    storeDense(o, c, "    ", "DV", `rowBase + i${r}`, `dv${r}_`, "");
    o.e(`  }`);
  }
  o.e(`}`);
  return o.toString();
}
