/**
 * Batched fp32 matmul kernel family: `C[b] = alpha · op(A[b]) · op(B[b]) + bias`, with
 * NN, NT, TN (and TT) layouts, any M, N, K, batch strides in uniforms (0 broadcasts).
 *
 * Tuned for Mesa llvmpipe/lavapipe, where a workgroup runs on one CPU thread and its
 * invocations run 8 at a time in AVX2 lanes along workgroup x. Measured there (Mesa
 * 22.3): FMAs are cheap (~100 GFLOP/s-equivalent when operands sit in registers), but
 * every storage-buffer or workgroup-memory load is compiled to a per-lane scalar loop
 * (~20 cycles per lane for a storage vec4, ~12 for workgroup memory), whatever its
 * width up to vec4. So throughput is set by FMAs per loaded vec4, i.e. by the register
 * tile: 4×4 ≈ 4, 8×8 ≈ 9, 16×16 ≈ 14, 32×32 ≈ 19 GFLOP/s per core at N = 1024.
 * Hence the design:
 *
 * - large per-invocation register tiles (up to 32×32, and 32×64 for products of at least
 *   1024 in every dimension), loaded as vec4 along each
 *   operand's contiguous axis (k for A in NN, m for A in TN, n for B in NN, k for B
 *   in NT), with the FMAs ordered k-innermost so spilled accumulators are reloaded
 *   once per 4 k;
 * - "direct" mode by default: operands come straight from storage buffers. Staging K
 *   tiles in workgroup memory (`tk > 0`) is supported but measured ~1.6× slower here
 *   (probably because each barrier is a coroutine switch between 8-lane chunks, each
 *   with a spilled 32×32 accumulator tile);
 * - one-dimensional workgroups, because llvmpipe vectorises along x only;
 * - bounds handled by clamping every row/column index once before the K loop and
 *   masking only the stores, so the hot loop has no checks for any M, N (K tails get a
 *   scalar-step loop only when no operand is k-contiguous vec4).
 *
 * - one measured quirk: TN with M a power of two ≤ 256 uses the one-k loop (`ku: 1`),
 *   see {@link matmulConfigFor}.
 *
 * Big tiles cost LLVM compile time on first use (32×32 ≈ 5–20 s, 16×16 ≈ 1–2 s, 8×8
 * ≈ 0.3 s); Mesa caches compiled shaders on disk afterwards.
 *
 * @module
 */

import type { MatmulConfig } from "./matmul_config.ts";
import { blockM, blockN, COMP, emitDirect, Out } from "./matmul_emit.ts";
import { emitShared } from "./matmul_shared.ts";

export type { MatmulConfig } from "./matmul_config.ts";

/** Kernel family name, the first part of every cache key. */
export const MATMUL_FAMILY: string = "matmul";

/** Byte size of the uniform block written by {@link matmulUniforms}. */
export const MATMUL_UNIFORM_BYTES: number = 32;

/**
 * Pipeline cache key: the family plus every static knob, never a raw size.
 *
 * @returns A string that is equal for two configs exactly when their WGSL is equal.
 */
export function matmulKey(c: MatmulConfig): string {
  const t = `${c.transA ? "T" : "N"}${c.transB ? "T" : "N"}`;
  const v = `${c.vecA ? 4 : 1}${c.vecB ? 4 : 1}${c.vecC ? 4 : 1}`;
  const e = `${c.alpha ? "a" : ""}${c.bias ? "b" : ""}${c.accumulate ? "+" : ""}${
    c.gelu ? (c.keepPre ? "gp" : "g") : ""
  }`;
  const k = c.tk > 0 ? `s${c.tk}${c.doubleBuffer ? "x2" : ""}` : `d${c.ku}`;
  return `${MATMUL_FAMILY}:f32:${t}:r${c.tm}x${c.tn}:w${c.wgM}x${c.wgN}:${k}:v${v}:${e}`;
}

/** Throws a RangeError when a config violates the generator's structural limits. */
function validate(c: MatmulConfig): void {
  if (!(c.tm >= 1 && c.tm <= 32) || !Number.isInteger(c.tm)) {
    throw new RangeError(`Cannot build matmul: tm "${c.tm}" is not an integer in 1..32`);
  }
  if (!(c.tn >= 4 && c.tn <= 64) || c.tn % 4 !== 0) {
    throw new RangeError(`Cannot build matmul: tn "${c.tn}" is not a multiple of 4 in 4..64`);
  }
  if (c.transA && c.vecA && c.tm % 4 !== 0) {
    throw new RangeError(`Cannot build matmul: vec4 TN loads need tm % 4 == 0, got "${c.tm}"`);
  }
  if (c.keepPre && !c.gelu) {
    throw new RangeError("Cannot build matmul: keepPre needs the gelu epilogue");
  }
  if (c.tk !== 0 && (c.tk % 4 !== 0 || c.tk < 4 || c.tk > 64)) {
    throw new RangeError(`Cannot build matmul: tk "${c.tk}" is not 0 or a multiple of 4 up to 64`);
  }
  const bytes = (blockM(c) + blockN(c)) * c.tk * 4 * (c.doubleBuffer ? 2 : 1);
  if (bytes > 32768) {
    throw new RangeError(`Cannot build matmul: "${bytes}" bytes of workgroup memory exceed 32768`);
  }
  const threads = c.wgM * c.wgN;
  if (threads < 1 || threads > 256 || !Number.isInteger(c.wgM) || !Number.isInteger(c.wgN)) {
    throw new RangeError(`Cannot build matmul: workgroup "${c.wgM}x${c.wgN}" is not 1..256`);
  }
}

/**
 * WGSL source for a config.
 *
 * Bindings: 0 uniform params, 1 A, 2 B, then 3 bias (only when `bias`), then C.
 * Entry point: `main`.
 */
export function matmulWgsl(c: MatmulConfig): string {
  validate(c);
  const { tm, tn } = c;
  const tq = tn / 4;
  const aT = c.vecA ? "vec4<f32>" : "f32";
  const bT = c.vecB ? "vec4<f32>" : "f32";
  const cT = c.vecC ? "vec4<f32>" : "f32";
  const o = new Out();
  const e = (s: string): void => o.e(s);
  e(`// ${matmulKey(c)}`);
  e(`struct Params { M: u32, N: u32, K: u32, batch: u32, sA: u32, sB: u32, sC: u32, alpha: f32 }`);
  e(`@group(0) @binding(0) var<uniform> P: Params;`);
  e(`@group(0) @binding(1) var<storage, read> A: array<${aT}>;`);
  e(`@group(0) @binding(2) var<storage, read> B: array<${bT}>;`);
  if (c.bias) e(`@group(0) @binding(3) var<storage, read> Bias: array<${cT}>;`);
  const cAt = c.bias ? 4 : 3;
  e(`@group(0) @binding(${cAt}) var<storage, read_write> C: array<${cT}>;`);
  if (c.keepPre) e(`@group(0) @binding(${cAt + 1}) var<storage, read_write> Pre: array<${cT}>;`);
  if (c.gelu) e(GELU_WGSL(cT));
  if (c.tk > 0) {
    const copies = c.doubleBuffer ? 2 : 1;
    e(`var<workgroup> As: array<vec4<f32>, ${(copies * blockM(c) * c.tk) / 4}>;`);
    e(`var<workgroup> Bs: array<vec4<f32>, ${(copies * blockN(c) * c.tk) / 4}>;`);
  }
  e(``);
  // One-dimensional workgroup: llvmpipe vectorises invocations along x only, so a 2-D
  // workgroup narrower than 8 in x would leave AVX lanes idle.
  e(`@compute @workgroup_size(${c.wgN * c.wgM}, 1, 1)`);
  e(`fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {`);
  e(`  let M = P.M; let N = P.N; let K = P.K;`);
  e(`  let lid = vec2<u32>(li % ${c.wgN}u, li / ${c.wgN}u);`);
  e(`  let mBase = wg.y * ${blockM(c)}u + lid.y * ${tm}u;`);
  e(`  let nBase = wg.x * ${blockN(c)}u + lid.x * ${tn}u;`);
  e(`  let aOff = wg.z * P.sA; let bOff = wg.z * P.sB; let cOff = wg.z * P.sC;`);
  for (let i = 0; i < tm; i++) {
    for (let q = 0; q < tq; q++) e(`  var acc${i}_${q} = vec4<f32>(0.0);`);
  }
  if (c.tk > 0) {
    emitShared(o, c);
  } else {
    // No barriers in direct mode, so invocations wholly outside C can leave at once.
    e(`  if (mBase >= M || nBase >= N) { return; }`);
    emitDirect(o, c);
  }

  // Epilogue: alpha, bias, masked stores.
  if (c.vecC) {
    for (let q = 0; q < tq; q++) {
      e(`  let n${q} = nBase + ${4 * q}u;`);
      if (c.bias) e(`  let bias${q} = Bias[min(n${q}, N - 4u) >> 2u];`);
    }
  } else if (c.bias) {
    for (let j = 0; j < tn; j++) e(`  let bias_${j} = Bias[min(nBase + ${j}u, N - 1u)];`);
  }
  // Value stored at C[index] from the accumulated value v (alpha, bias, accumulate, gelu).
  const store = (ind: string, index: string, v: string, bias: string | null): void => {
    if (c.alpha) v = `${v} * P.alpha`;
    if (bias !== null) v = `${v} + ${bias}`;
    if (c.accumulate) v = `${v} + C[${index}]`;
    if (!c.gelu) {
      e(`${ind}C[${index}] = ${v};`);
      return;
    }
    e(`${ind}let pre = ${v};`);
    if (c.keepPre) e(`${ind}Pre[${index}] = pre;`);
    e(`${ind}C[${index}] = gelu_mm(pre);`);
  };
  for (let i = 0; i < tm; i++) {
    e(`  if (mBase + ${i}u < M) {`);
    e(`    let cRow = cOff + (mBase + ${i}u) * N;`);
    for (let q = 0; q < tq; q++) {
      const v = `acc${i}_${q}`;
      if (c.vecC) {
        e(`    if (n${q} < N) {`);
        store("      ", `(cRow + n${q}) >> 2u`, v, c.bias ? `bias${q}` : null);
        e(`    }`);
      } else {
        e(`    let o${q} = ${v};`);
        for (let cc = 0; cc < 4; cc++) {
          const j = 4 * q + cc;
          e(`    if (nBase + ${j}u < N) {`);
          store("      ", `cRow + nBase + ${j}u`, `o${q}.${COMP[cc]}`, c.bias ? `bias_${j}` : null);
          e(`    }`);
        }
      }
    }
    e(`  }`);
  }
  e(`}`);
  return o.lines.join("\n") + "\n";
}

/**
 * GPT-2's tanh-approximated GELU for the epilogue, the same float32 arithmetic as the
 * elementwise kernel's `gelu` (tanh through a clamped exp, so large inputs do not overflow).
 */
function GELU_WGSL(t: string): string {
  return `fn gelu_mm(x: ${t}) -> ${t} {
  let y = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), ${t}(-15.0), ${t}(15.0));
  let e = exp(2.0 * y);
  return 0.5 * x * (${t}(1.0) + (e - 1.0) / (e + 1.0));
}`;
}

/** Register-tile edge for one output dimension: as large as the extent allows, up to 32. */
function tileFor(d: number): number {
  return d >= 128 ? 32 : d >= 64 ? 16 : d >= 32 ? 8 : d >= 4 ? 4 : Math.max(1, d);
}

/**
 * Picks the fastest measured config for a problem size and layout.
 *
 * On llvmpipe the cost is dominated by per-lane loads, so the register tile grows with
 * the output (up to 32×32 for extents ≥ 128, ~19 GFLOP/s per core) while staying no
 * larger than the matrix; workgroups stay at 16 invocations (two AVX chunks) and shrink
 * to 8 when that is the only way to get two workgroups, or an even count of few, for the
 * two CPU threads.
 * A 32×32 tile costs several seconds of LLVM compile on first use (Mesa caches it on
 * disk afterwards); callers that run a shape only a few times can pass a smaller tile.
 *
 * @param m Rows of C.
 * @param n Columns of C.
 * @param k Inner dimension.
 * @param transA A is stored as `[K, M]`.
 * @param transB B is stored as `[N, K]`.
 * @param maxTile Largest register-tile edge to use (4..32, default 32); 16 compiles
 *   ~10x faster than 32 and runs ~30% slower.
 * @returns A config whose alignment flags are valid for these sizes, assuming dense batch
 *   strides (`M*K`, `K*N`, `M*N`) or 0.
 */
export function matmulConfigFor(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  maxTile = 32,
): MatmulConfig {
  const { vecA, vecB, vecC } = vecFlags(m, n, k, transA, transB);
  const cap = Math.max(4, Math.min(32, maxTile));
  let tm = Math.min(cap, tileFor(m));
  // vec4 loads along M need whole vec4 row groups per invocation.
  if (transA && vecA) tm = Math.max(4, tm - (tm % 4));
  let tn = Math.max(4, Math.min(cap, tileFor(n)) - (Math.min(cap, tileFor(n)) % 4));
  // 32×64 tiles load a third less per FMA (measured 13.7 → 16.3 GFLOP per CPU-second at
  // N = 1024, 15-25% on GPT-sized products) but take ~5x the LLVM compile time of 32×32 on first
  // use (≈ 90 s vs 18 s), so only products of at least 1024 in every dimension, whose run time
  // repays that, get them.
  const wide = cap >= 32 && m >= 1024 && n >= 1024 && k >= 1024;
  if (wide) tn = 64;
  let wgM = Math.max(1, Math.min(4, Math.ceil(m / tm)));
  // At least 8 invocations: one full AVX chunk (wide tiles: exactly one, 128×128 per group).
  let wgN = wide ? 2 : Math.max(1, Math.min(4, Math.ceil(n / tn)), Math.ceil(8 / wgM));
  const groups = (): number => Math.ceil(m / (tm * wgM)) * Math.ceil(n / (tn * wgN));
  // Each workgroup runs on one CPU thread: at least two, and an even count when there are few
  // (3 workgroups on 2 threads leave one idle a third of the time, e.g. a [128, 384] weight
  // gradient).
  while ((groups() < 2 || (groups() < 8 && groups() % 2 === 1)) && wgM * wgN > 8) {
    if (wgM >= wgN) wgM = Math.floor(wgM / 2);
    else wgN = Math.floor(wgN / 2);
  }
  // Measured quirk: TN with both operands read down their rows as vec4 runs 2-10x slower
  // in the 4-k unrolled form when M is a power of two up to 256 (A's row stride
  // 512 B - 1 KiB); the one-k loop does not suffer from it. Larger or other M are fine.
  const tnQuirk = transA && !transB && vecA && vecB && m <= 256 && (m & (m - 1)) === 0;
  return {
    transA,
    transB,
    tm,
    tn,
    wgM,
    wgN,
    vecA,
    vecB,
    vecC,
    alpha: false,
    bias: false,
    tk: 0,
    ku: tnQuirk ? 1 : 4,
  };
}

/** vec4 access along each operand's contiguous axis (K or M for A, N or K for B, N for C). */
function vecFlags(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
): Pick<MatmulConfig, "vecA" | "vecB" | "vecC"> {
  const by4 = (x: number): boolean => x % 4 === 0 && x > 0;
  return { vecA: by4(transA ? m : k), vecB: by4(transB ? k : n), vecC: by4(n) };
}

/** Smallest power of two ≥ x (x ≥ 1). */
function pow2AtLeast(x: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, x)));
}

/**
 * The config for hardware GPUs (every adapter that is not a software fallback): the usual GPU
 * shapes rather than llvmpipe's. Consecutive invocations run along N so that loads of B and
 * stores of C coalesce, and K tiles go through workgroup memory within WebGPU's default 16 KiB:
 *
 * - large outputs (at least 128 blocks of 128×128): 128×128 per workgroup, 8×8 per invocation
 *   (256 invocations), K tiles of 8, double-buffered (next tile loaded while this one is used);
 * - medium outputs (at least 64 blocks of 64×64): 64×64 per workgroup, 4×4 per invocation,
 *   K tiles of 16, double-buffered;
 * - otherwise 4×4 per invocation in as many invocations as the output needs (up to 256), K
 *   tiles of 16 when the block fits, else direct loads.
 *
 * @param m Rows of C.
 * @param n Columns of C.
 * @param k Inner dimension.
 * @param transA A is stored as `[K, M]`.
 * @param transB B is stored as `[N, K]`.
 * @returns A config valid for these sizes under the same stride assumptions as
 *   {@linkcode matmulConfigFor}.
 */
export function hardwareMatmulConfigFor(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
): MatmulConfig {
  const common = {
    transA,
    transB,
    ...vecFlags(m, n, k, transA, transB),
    alpha: false,
    bias: false,
    ku: 4 as const,
  };
  const blocks = (edge: number): number => Math.ceil(m / edge) * Math.ceil(n / edge);
  if (blocks(128) >= 128) {
    return { ...common, tm: 8, tn: 8, wgM: 16, wgN: 16, tk: 8, doubleBuffer: true };
  }
  if (blocks(64) >= 64) {
    return { ...common, tm: 4, tn: 4, wgM: 16, wgN: 16, tk: 16, doubleBuffer: true };
  }
  const tm = 4;
  const tn = 4;
  const wgN = Math.min(16, pow2AtLeast(Math.ceil(n / tn)));
  const wgM = Math.min(256 / wgN, pow2AtLeast(Math.ceil(m / tm)));
  const tk = (wgM * tm + wgN * tn) * 16 * 4 <= 16384 ? 16 : 0;
  return { ...common, tm, tn, wgM, wgN, tk };
}

/**
 * Workgroup counts for a dispatch: x tiles N, y tiles M, z is the batch.
 *
 * @param m Rows of C.
 * @param n Columns of C.
 * @returns `[x, y, z]` for `dispatchWorkgroups`.
 */
export function matmulWorkgroups(
  c: MatmulConfig,
  m: number,
  n: number,
  batch: number,
): [number, number, number] {
  const x = Math.ceil(n / blockN(c));
  const y = Math.ceil(m / blockM(c));
  if (x > 65535 || y > 65535 || batch > 65535) {
    throw new RangeError(`Cannot dispatch matmul: grid "${x}x${y}x${batch}" exceeds 65535`);
  }
  return [x, y, batch];
}

/**
 * Uniform block for one dispatch: eight 32-bit words, 32 bytes.
 *
 * Layout (word index: meaning): 0 M, 1 N, 2 K, 3 batch, 4 strideA, 5 strideB,
 * 6 strideC (batch strides in elements; 0 broadcasts one matrix over the batch),
 * 7 alpha as f32 bits (used only by `alpha` configs).
 *
 * @param m Rows of C.
 * @param n Columns of C.
 * @param k Inner dimension.
 * @param strideA Elements between consecutive A matrices (0 to broadcast).
 * @param strideB Elements between consecutive B matrices (0 to broadcast).
 * @param strideC Elements between consecutive C matrices.
 * @param alpha Scale applied by `alpha` configs; defaults to 1.
 * @returns The 8-word uniform data.
 */
export function matmulUniforms(
  m: number,
  n: number,
  k: number,
  batch: number,
  strideA: number,
  strideB: number,
  strideC: number,
  alpha = 1,
): Uint32Array<ArrayBuffer> {
  const u = new Uint32Array(8);
  u.set([m, n, k, batch, strideA, strideB, strideC]);
  new Float32Array(u.buffer)[7] = alpha;
  return u;
}
