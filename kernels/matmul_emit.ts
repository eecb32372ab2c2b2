/**
 * WGSL emitters shared by the matmul modes (internal to `kernels/matmul.ts`): operand
 * sources, the per-k load + FMA step, and the direct (storage-buffer) main loop.
 *
 * @module
 */

import type { MatmulConfig } from "./matmul_config.ts";

/**
 * Output rows one workgroup covers.
 *
 * @returns `tm * wgM`.
 */
export function blockM(c: MatmulConfig): number {
  return c.tm * c.wgM;
}

/**
 * Output columns one workgroup covers.
 *
 * @returns `tn * wgN`.
 */
export function blockN(c: MatmulConfig): number {
  return c.tn * c.wgN;
}

/** WGSL vector component names by index. */
export const COMP: readonly string[] = ["x", "y", "z", "w"];

/** How one operand's values for a group of k reach the FMAs. */
export type Src =
  /** vec4 along k: `arr[base<i> + kq]` holds k = 4·kq .. 4·kq+3 of row/column i. */
  | { kind: "k4"; arr: string; base: string }
  /** vec4 along m or n: `arr[base<g> + k·stride]` holds 4 rows/columns of group g. */
  | { kind: "x4"; arr: string; base: string; stride: string }
  /** scalar element (A: row i, B: column j) at k: an index expression. */
  | { kind: "s"; arr: string; index: (ij: number, k: string) => string };

/** Collects WGSL lines. */
export class Out {
  lines: string[] = [];
  /** Appends one line. */
  e(s: string): void {
    this.lines.push(s);
  }
}

/**
 * Emits loads and FMAs for `n` consecutive k (4, or 1 for K tails and one-k loops).
 *
 * @param ind Indentation prefix.
 * @param sa Where A's values come from.
 * @param sb Where B's values come from.
 * @param k WGSL expression of the first k (a multiple of 4 when n = 4); may be relative to a
 *   workgroup tile.
 * @param kq WGSL expression of k / 4, used by vec4-along-k sources.
 * @param n Number of consecutive k.
 * @param dyn When set (n = 1), vec4-along-k values were preloaded by emitK4Loads and this
 *   WGSL expression picks the component.
 */
export function emitStep(
  o: Out,
  c: MatmulConfig,
  ind: string,
  sa: Src,
  sb: Src,
  k: string,
  kq: string,
  n: number,
  dyn?: string,
): void {
  const { tm, tn } = c;
  const tq = tn / 4;
  const kx = (kk: number): string => (kk === 0 ? k : `(${k} + ${kk}u)`);
  const a: string[][] = [];
  const b: string[][] = [];
  for (let kk = 0; kk < n; kk++) {
    a.push([]);
    b.push([]);
  }
  if (sa.kind === "k4" && dyn !== undefined) {
    // Preloaded by emitK4Loads; pick this k's component at run time.
    for (let i = 0; i < tm; i++) a[0][i] = `av${i}[${dyn}]`;
  } else if (sa.kind === "k4") {
    for (let i = 0; i < tm; i++) {
      o.e(`${ind}let av${i} = ${sa.arr}[${sa.base}${i} + ${kq}];`);
      for (let kk = 0; kk < n; kk++) a[kk][i] = `av${i}.${COMP[kk]}`;
    }
  } else if (sa.kind === "x4") {
    for (let kk = 0; kk < n; kk++) {
      for (let g = 0; g < tm / 4; g++) {
        o.e(`${ind}let av${kk}_${g} = ${sa.arr}[${sa.base}${g} + ${kx(kk)} * ${sa.stride}];`);
        for (let cc = 0; cc < 4; cc++) a[kk][4 * g + cc] = `av${kk}_${g}.${COMP[cc]}`;
      }
    }
  } else {
    for (let kk = 0; kk < n; kk++) {
      for (let i = 0; i < tm; i++) {
        o.e(`${ind}let a${kk}_${i} = ${sa.arr}[${sa.index(i, kx(kk))}];`);
        a[kk][i] = `a${kk}_${i}`;
      }
    }
  }
  if (sb.kind === "x4") {
    for (let kk = 0; kk < n; kk++) {
      for (let q = 0; q < tq; q++) {
        o.e(`${ind}let bv${kk}_${q} = ${sb.arr}[${sb.base}${q} + ${kx(kk)} * ${sb.stride}];`);
        b[kk][q] = `bv${kk}_${q}`;
      }
    }
  } else if (sb.kind === "k4" && dyn !== undefined) {
    for (let q = 0; q < tq; q++) {
      const parts = [0, 1, 2, 3].map((cc) => `bk${4 * q + cc}[${dyn}]`);
      b[0][q] = `vec4<f32>(${parts.join(", ")})`;
    }
  } else if (sb.kind === "k4") {
    for (let j = 0; j < tn; j++) o.e(`${ind}let bk${j} = ${sb.arr}[${sb.base}${j} + ${kq}];`);
    for (let kk = 0; kk < n; kk++) {
      for (let q = 0; q < tq; q++) {
        const parts = [0, 1, 2, 3].map((cc) => `bk${4 * q + cc}.${COMP[kk]}`);
        b[kk][q] = `vec4<f32>(${parts.join(", ")})`;
      }
    }
  } else {
    for (let kk = 0; kk < n; kk++) {
      for (let q = 0; q < tq; q++) {
        const parts = [0, 1, 2, 3].map((cc) => `${sb.arr}[${sb.index(4 * q + cc, kx(kk))}]`);
        o.e(`${ind}let bv${kk}_${q} = vec4<f32>(${parts.join(", ")});`);
        b[kk][q] = `bv${kk}_${q}`;
      }
    }
  }
  // k innermost: each accumulator gets all n updates back to back, so when the tile
  // spills (it does beyond ~8x8 on AVX2) it is reloaded once per n FMAs, not per FMA.
  for (let i = 0; i < tm; i++) {
    for (let q = 0; q < tq; q++) {
      for (let kk = 0; kk < n; kk++) {
        o.e(`${ind}acc${i}_${q} = fma(vec4<f32>(${a[kk][i]}), ${b[kk][q]}, acc${i}_${q});`);
      }
    }
  }
}

/**
 * Emits per-invocation row/column bases into the global operands: every row and
 * column is clamped into range once, so later loads need no checks for any shape
 * (results for clamped rows/columns are computed but never stored).
 */
function globalSources(o: Out, c: MatmulConfig): { sa: Src; sb: Src } {
  const { tm, tn } = c;
  let sa: Src;
  let sb: Src;
  if (c.vecA && c.transA) {
    for (let g = 0; g < tm / 4; g++) {
      o.e(`  let aR${g} = (aOff >> 2u) + (min(mBase + ${4 * g}u, M - 4u) >> 2u);`);
    }
    sa = { kind: "x4", arr: "A", base: "aR", stride: "(M >> 2u)" };
  } else {
    for (let i = 0; i < tm; i++) {
      const r = `min(mBase + ${i}u, M - 1u)`;
      if (c.vecA) o.e(`  let aR${i} = (aOff + ${r} * K) >> 2u;`);
      else if (c.transA) o.e(`  let aR${i} = aOff + ${r};`);
      else o.e(`  let aR${i} = aOff + ${r} * K;`);
    }
    sa = c.vecA ? { kind: "k4", arr: "A", base: "aR" } : {
      kind: "s",
      arr: "A",
      index: (i, k) => (c.transA ? `aR${i} + ${k} * M` : `aR${i} + ${k}`),
    };
  }
  if (c.vecB && !c.transB) {
    for (let q = 0; q < tn / 4; q++) {
      o.e(`  let bR${q} = (bOff >> 2u) + (min(nBase + ${4 * q}u, N - 4u) >> 2u);`);
    }
    sb = { kind: "x4", arr: "B", base: "bR", stride: "(N >> 2u)" };
  } else {
    for (let j = 0; j < tn; j++) {
      const col = `min(nBase + ${j}u, N - 1u)`;
      if (c.vecB) o.e(`  let bR${j} = (bOff + ${col} * K) >> 2u;`);
      else if (c.transB) o.e(`  let bR${j} = bOff + ${col} * K;`);
      else o.e(`  let bR${j} = bOff + ${col};`);
    }
    sb = c.vecB ? { kind: "k4", arr: "B", base: "bR" } : {
      kind: "s",
      arr: "B",
      index: (j, k) => (c.transB ? `bR${j} + ${k}` : `bR${j} + ${k} * N`),
    };
  }
  return { sa, sb };
}

/** Emits the vec4-along-k loads (A rows / B columns) for quarter `kq`, ahead of a k loop. */
function emitK4Loads(o: Out, c: MatmulConfig, ind: string, sa: Src, sb: Src, kq: string): void {
  if (sa.kind === "k4") {
    for (let i = 0; i < c.tm; i++) o.e(`${ind}let av${i} = ${sa.arr}[${sa.base}${i} + ${kq}];`);
  }
  if (sb.kind === "k4") {
    for (let j = 0; j < c.tn; j++) o.e(`${ind}let bk${j} = ${sb.arr}[${sb.base}${j} + ${kq}];`);
  }
}

/**
 * Emits the direct-mode main loop: operands straight from storage buffers, four k per
 * iteration (or one, when `ku` is 1), then the K tail.
 */
export function emitDirect(o: Out, c: MatmulConfig): void {
  const { sa, sb } = globalSources(o, c);
  o.e(`  let K4 = K >> 2u;`);
  o.e(`  for (var kq = 0u; kq < K4; kq = kq + 1u) {`);
  if (c.ku === 4) {
    o.e(`    let k = kq << 2u;`);
    emitStep(o, c, "    ", sa, sb, "k", "kq", 4);
  } else {
    // One k per inner iteration: a quarter of the code (LLVM compile time grows
    // superlinearly with it) at the price of reloading spilled accumulators per k.
    emitK4Loads(o, c, "    ", sa, sb, "kq");
    o.e(`    for (var kk = 0u; kk < 4u; kk = kk + 1u) {`);
    o.e(`      let k = (kq << 2u) + kk;`);
    emitStep(o, c, "      ", sa, sb, "k", "kq", 1, "kk");
    o.e(`    }`);
  }
  o.e(`  }`);
  // A k-contiguous vec4 operand implies K % 4 == 0, so there is no tail.
  if (sa.kind !== "k4" && sb.kind !== "k4") {
    o.e(`  for (var k = K4 << 2u; k < K; k = k + 1u) {`);
    emitStep(o, c, "    ", sa, sb, "k", "0u", 1);
    o.e(`  }`);
  }
}
