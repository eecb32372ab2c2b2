/**
 * What the three fused attention kernels of `attention.ts` share: the configuration and uniform
 * layout, and the WGSL emitters for the prologue (workgroup → rows, operand offsets), strided
 * and dense row loads and stores, and the causal sweep that streams one sequence axis past the
 * rows an invocation owns.
 * @module
 */

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

/**
 * Uniform layout (word indices): 0 T, 1 H, 2 hd, 3 row blocks per (batch, head), 4 scale (f32),
 * 5 workgroups in use (B·H·blocks), 6 element offset of the logsumexp tail of the output storage,
 * 7 unused, then per strided operand k (q, k, v, g = output gradient) 4 words at 8 + 4k: element
 * offset, batch, head and time strides (all multiples of 4). The written operands (o, the
 * forward output, also read by the backward; dq, dk, dv) have the same four words at 24 + 4k,
 * in elements with unit column stride: `[B, H, T, hd]` contiguous, or rows of a `[B, T, H·hd]`
 * or `[B, T, 3·H·hd]` tensor, so heads are merged and gradients land in the fused projection's
 * layout without copies (multiples of 4 with `vecRows`). Per-row scalars are contiguous
 * `[B·H·T]`.
 */
export const ATTN_LAYOUT: {
  readonly operand: (k: number) => number;
  readonly dense: (k: number) => number;
} = {
  operand: (k: number): number => 8 + 4 * k,
  dense: (k: number): number => 24 + 4 * k,
};

/** Most negative finite f32: the score of a masked pair (its exp relative to any real max is 0). */
export const NEG: string = "-3.4028234663852886e38";

const STRIDED = ["Q", "K", "V", "G"] as const;
export type Strided = (typeof STRIDED)[number];

const DENSE = ["O", "DQ", "DK", "DV"] as const;
/** The operands read or written as rows of `hd` columns through {@linkcode ATTN_LAYOUT.dense}. */
export type Dense = (typeof DENSE)[number];

/** Collects WGSL lines. */
export class Code {
  readonly lines: string[] = [];
  /** Appends lines. */
  e(...s: string[]): void {
    this.lines.push(...s);
  }
  /** @returns The source. */
  toString(): string {
    return this.lines.join("\n") + "\n";
  }
}

/** vec4 register slots per row. */
export function slots(c: AttentionConfig): number {
  return c.d / 4;
}

export const ZERO: string = "vec4<f32>(0.0)";

/** `Σ_s dot(a<s>, b<s>)` as one expression. */
export function dotAll(c: AttentionConfig, a: string, b: string): string {
  const terms: string[] = [];
  for (let s = 0; s < slots(c); s++) terms.push(`dot(${a}${s}, ${b}${s})`);
  return terms.join(" + ");
}

/** Throws a RangeError naming the knob when a config is outside what the generators support. */
export function validate(c: AttentionConfig): void {
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
 * Rows covered by one workgroup.
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
export function prologue(
  o: Code,
  c: AttentionConfig,
  used: readonly Strided[],
  dense: readonly Dense[],
): void {
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
  // Element offset of (batch, head) of each dense operand, and its time stride.
  for (const x of dense) {
    const at = ATTN_LAYOUT.dense(DENSE.indexOf(x));
    o.e(`  let ${x}d = pu(${at}u) + bi * pu(${at + 1}u) + hi * pu(${at + 2}u);`);
    o.e(`  let ${x}s = pu(${at + 3}u);`);
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
export function loadStrided(
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
export function rowType(c: AttentionConfig): string {
  return c.vecRows ? "vec4<f32>" : "f32";
}

/** Loads time step `t` of dense operand `x` (this invocation's batch and head) into `let <name><s>`. */
export function loadDense(o: Code, c: AttentionConfig, x: Dense, t: string, name: string): void {
  if (c.vecRows) {
    o.e(`  let ${name}_r = (${x}d + (${t}) * ${x}s) >> 2u;`);
    for (let s = 0; s < slots(c); s++) o.e(`  let ${name}${s} = ${x}[${name}_r + c${s}];`);
    return;
  }
  o.e(`  let ${name}_r = ${x}d + (${t}) * ${x}s;`);
  for (let s = 0; s < slots(c); s++) {
    const parts = [0, 1, 2, 3].map((q) => `${x}[${name}_r + min(${4 * s + q}u, hd - 1u)]`);
    o.e(`  let ${name}${s} = vec4<f32>(${parts.join(", ")});`);
  }
}

/**
 * Stores registers `<name><s>` times `mul` into time step `t` of dense output `out`, through
 * binding `into` (default: the binding named `out`).
 */
export function storeDense(
  o: Code,
  c: AttentionConfig,
  ind: string,
  out: Dense,
  t: string,
  name: string,
  mul: string,
  into: string = out,
): void {
  if (c.vecRows) {
    o.e(`${ind}let ${name}_o = (${out}d + (${t}) * ${out}s) >> 2u;`);
    for (let s = 0; s < slots(c); s++) {
      o.e(`${ind}if (vm${s}) { ${into}[${name}_o + ${s}u] = ${name}${s}${mul}; }`);
    }
    return;
  }
  const comps = ["x", "y", "z", "w"];
  o.e(`${ind}let ${name}_o = ${out}d + (${t}) * ${out}s;`);
  for (let s = 0; s < slots(c); s++) {
    for (let q = 0; q < 4; q++) {
      const col = 4 * s + q;
      const v = `${name}${s}.${comps[q]}${mul}`;
      o.e(`${ind}if (${col}u < hd) { ${into}[${name}_o + ${col}u] = ${v}; }`);
    }
  }
}

/** How one kernel streams the other sequence axis past the rows it owns. */
export interface Stream {
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
export function sweep(o: Code, c: AttentionConfig, st: Stream): void {
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
