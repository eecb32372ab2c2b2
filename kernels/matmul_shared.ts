/**
 * Workgroup-memory mode of the matmul family (internal to `kernels/matmul.ts`, used when
 * `tk > 0`): K tiles of A and B are staged through workgroup memory. Slower than direct
 * mode on llvmpipe (see `kernels/matmul.ts`), kept as a tuning knob for other adapters.
 *
 * @module
 */

import type { MatmulConfig } from "./matmul_config.ts";
import { blockM, blockN, emitStep, type Out, type Src } from "./matmul_emit.ts";

/**
 * Emits the cooperative copy of one operand's K tile into workgroup memory: invocation
 * `li` stores vec4 slots `li`, `li + threads`, ...; `value(s)` is the WGSL expression
 * for its slot s (its bases were precomputed before the K loop).
 */
function emitTileCopy(
  o: Out,
  arr: string,
  count: number,
  threads: number,
  value: (s: number) => string,
  base = "",
): void {
  const per = Math.ceil(count / threads);
  for (let s = 0; s < per; s++) {
    const idx = s === 0 ? "li" : `li + ${s * threads}u`;
    const st = `${arr}[${base}${idx}] = ${value(s)};`;
    if ((s + 1) * threads > count) o.e(`    if (${idx} < ${count}u) { ${st} }`);
    else o.e(`    ${st}`);
  }
}

/**
 * Shared mode: each K tile of A and B is copied once per workgroup into workgroup
 * memory in the operand's own contiguous order (so the copy is plain vec4 moves), then
 * every invocation reads its fragments from there. Out-of-range rows/columns are
 * clamped and k beyond K is zero-filled during the copy.
 *
 * @param c The kernel configuration (`tk > 0`).
 */
export function emitShared(o: Out, c: MatmulConfig): void {
  const { tm, tn, tk } = c;
  const bm = blockM(c);
  const bn = blockN(c);
  const threads = c.wgM * c.wgN;
  const tk4 = tk / 4;
  const aMajor = c.transA && tm % 4 === 0; // As as [tk][bm/4] instead of [bm][tk/4]
  const bMajor = !c.transB; // Bs as [tk][bn/4] instead of [bn][tk/4]
  const aCount = (bm * tk) / 4;
  const bCount = (bn * tk) / 4;
  const z = "vec4<f32>(0.0)";
  o.e(`  let mTile = wg.y * ${bm}u;`);
  o.e(`  let nTile = wg.x * ${bn}u;`);
  o.e(`  let K4 = K >> 2u;`);
  // Per-slot copy bases (loop-invariant): which tile row/column and k offset a slot owns.
  const aVal: ((s: number) => string)[] = [];
  for (let s = 0; s < Math.ceil(aCount / threads); s++) {
    const e = `(li + ${s * threads}u)`;
    if (aMajor) {
      // slot = kRow * (bm/4) + mVec
      o.e(`  let aK${s} = ${e} / ${bm / 4}u;`);
      if (c.vecA) {
        o.e(
          `  let aB${s} = (aOff >> 2u) + min((mTile >> 2u) + ${e} % ${bm / 4}u, (M >> 2u) - 1u);`,
        );
        aVal.push(() =>
          `select(${z}, A[aB${s} + min(k0 + aK${s}, K - 1u) * (M >> 2u)], k0 + aK${s} < K)`
        );
      } else {
        o.e(`  let aM${s} = mTile + (${e} % ${bm / 4}u) * 4u;`);
        aVal.push(() => {
          const p = [0, 1, 2, 3].map((cc) =>
            `A[aOff + min(k0 + aK${s}, K - 1u) * M + min(aM${s} + ${cc}u, M - 1u)]`
          );
          return `select(${z}, vec4<f32>(${p.join(", ")}), k0 + aK${s} < K)`;
        });
      }
    } else {
      // slot = mRow * (tk/4) + kVec
      o.e(`  let aK${s} = (${e} % ${tk4}u) * 4u;`);
      o.e(`  let aRow${s} = min(mTile + ${e} / ${tk4}u, M - 1u);`);
      if (c.vecA) {
        o.e(`  let aB${s} = (aOff + aRow${s} * K) >> 2u;`);
        aVal.push(() =>
          `select(${z}, A[aB${s} + min((k0 + aK${s}) >> 2u, K4 - 1u)], k0 + aK${s} < K)`
        );
      } else {
        aVal.push(() => {
          const p = [0, 1, 2, 3].map((cc) => {
            const kk = `min(k0 + aK${s} + ${cc}u, K - 1u)`;
            const idx = c.transA ? `aOff + ${kk} * M + aRow${s}` : `aOff + aRow${s} * K + ${kk}`;
            return `select(0.0, A[${idx}], k0 + aK${s} + ${cc}u < K)`;
          });
          return `vec4<f32>(${p.join(", ")})`;
        });
      }
    }
  }
  const bVal: ((s: number) => string)[] = [];
  for (let s = 0; s < Math.ceil(bCount / threads); s++) {
    const e = `(li + ${s * threads}u)`;
    if (bMajor) {
      o.e(`  let bK${s} = ${e} / ${bn / 4}u;`);
      if (c.vecB) {
        o.e(
          `  let bB${s} = (bOff >> 2u) + min((nTile >> 2u) + ${e} % ${bn / 4}u, (N >> 2u) - 1u);`,
        );
        bVal.push(() =>
          `select(${z}, B[bB${s} + min(k0 + bK${s}, K - 1u) * (N >> 2u)], k0 + bK${s} < K)`
        );
      } else {
        o.e(`  let bN${s} = nTile + (${e} % ${bn / 4}u) * 4u;`);
        bVal.push(() => {
          const p = [0, 1, 2, 3].map((cc) =>
            `B[bOff + min(k0 + bK${s}, K - 1u) * N + min(bN${s} + ${cc}u, N - 1u)]`
          );
          return `select(${z}, vec4<f32>(${p.join(", ")}), k0 + bK${s} < K)`;
        });
      }
    } else {
      o.e(`  let bK${s} = (${e} % ${tk4}u) * 4u;`);
      o.e(`  let bCol${s} = min(nTile + ${e} / ${tk4}u, N - 1u);`);
      if (c.vecB) {
        o.e(`  let bB${s} = (bOff + bCol${s} * K) >> 2u;`);
        bVal.push(() =>
          `select(${z}, B[bB${s} + min((k0 + bK${s}) >> 2u, K4 - 1u)], k0 + bK${s} < K)`
        );
      } else {
        bVal.push(() => {
          const p = [0, 1, 2, 3].map((cc) => {
            const kk = `min(k0 + bK${s} + ${cc}u, K - 1u)`;
            return `select(0.0, B[bOff + bCol${s} * K + ${kk}], k0 + bK${s} + ${cc}u < K)`;
          });
          return `vec4<f32>(${p.join(", ")})`;
        });
      }
    }
  }
  // Fragment bases inside the tiles.
  let sa: Src;
  if (aMajor) {
    for (let g = 0; g < tm / 4; g++) o.e(`  let aS${g} = lid.y * ${tm / 4}u + ${g}u;`);
    sa = { kind: "x4", arr: "As", base: "aS", stride: `${bm / 4}u` };
  } else {
    for (let i = 0; i < tm; i++) o.e(`  let aS${i} = (lid.y * ${tm}u + ${i}u) * ${tk4}u;`);
    sa = { kind: "k4", arr: "As", base: "aS" };
  }
  let sb: Src;
  if (bMajor) {
    for (let q = 0; q < tn / 4; q++) o.e(`  let bS${q} = lid.x * ${tn / 4}u + ${q}u;`);
    sb = { kind: "x4", arr: "Bs", base: "bS", stride: `${bn / 4}u` };
  } else {
    for (let j = 0; j < tn; j++) o.e(`  let bS${j} = (lid.x * ${tn}u + ${j}u) * ${tk4}u;`);
    sb = { kind: "k4", arr: "Bs", base: "bS" };
  }
  o.e(`  let tiles = (K + ${tk - 1}u) / ${tk}u;`);
  if (!c.doubleBuffer) {
    o.e(`  for (var t = 0u; t < tiles; t = t + 1u) {`);
    o.e(`    let k0 = t * ${tk}u;`);
    emitTileCopy(o, "As", aCount, threads, (s) => aVal[s](s));
    emitTileCopy(o, "Bs", bCount, threads, (s) => bVal[s](s));
    o.e(`    workgroupBarrier();`);
    o.e(`    for (var kq = 0u; kq < ${tk4}u; kq = kq + 1u) {`);
    o.e(`      let k = kq << 2u;`);
    emitStep(o, c, "      ", sa, sb, "k", "kq", 4);
    o.e(`    }`);
    o.e(`    workgroupBarrier();`);
    o.e(`  }`);
    return;
  }
  // Double buffering: tile t is read from copy t & 1 while tile t + 1 is loaded into registers
  // (issued before the FMAs, so their latency hides behind them) and stored into the other copy;
  // the barrier at the end of iteration t separates every read of a copy from its next write.
  const aSlots = Math.ceil(aCount / threads);
  const bSlots = Math.ceil(bCount / threads);
  o.e(`  {`);
  o.e(`    let k0 = 0u;`);
  emitTileCopy(o, "As", aCount, threads, (s) => aVal[s](s));
  emitTileCopy(o, "Bs", bCount, threads, (s) => bVal[s](s));
  o.e(`  }`);
  o.e(`  workgroupBarrier();`);
  o.e(`  for (var t = 0u; t < tiles; t = t + 1u) {`);
  o.e(`    let aCur = (t & 1u) * ${aCount}u;`);
  o.e(`    let bCur = (t & 1u) * ${bCount}u;`);
  o.e(`    let k0 = (t + 1u) * ${tk}u;`);
  // Loads past K are clamped and zero-filled, so the last iteration's prefetch is harmless.
  for (let s = 0; s < aSlots; s++) o.e(`    let pa${s} = ${aVal[s](s)};`);
  for (let s = 0; s < bSlots; s++) o.e(`    let pb${s} = ${bVal[s](s)};`);
  const shifted = (src: Src, cur: string, n: number): Src => {
    if (src.kind === "s") return src;
    for (let i = 0; i < n; i++) o.e(`    let ${src.base}c${i} = ${src.base}${i} + ${cur};`);
    return { ...src, base: `${src.base}c` };
  };
  const saC = shifted(sa, "aCur", sa.kind === "x4" ? tm / 4 : tm);
  const sbC = shifted(sb, "bCur", sb.kind === "x4" ? tn / 4 : tn);
  o.e(`    for (var kq = 0u; kq < ${tk4}u; kq = kq + 1u) {`);
  o.e(`      let k = kq << 2u;`);
  emitStep(o, c, "      ", saC, sbC, "k", "kq", 4);
  o.e(`    }`);
  o.e(`    if (t + 1u < tiles) {`);
  o.e(`      let aNxt = ${aCount}u - aCur;`);
  o.e(`      let bNxt = ${bCount}u - bCur;`);
  emitTileCopy(o, "As", aCount, threads, (s) => `pa${s}`, "aNxt + ");
  emitTileCopy(o, "Bs", bCount, threads, (s) => `pb${s}`, "bNxt + ");
  o.e(`    }`);
  o.e(`    workgroupBarrier();`);
  o.e(`  }`);
}
