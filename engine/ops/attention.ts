/**
 * Causal scaled dot-product attention over `[B, H, T, hd]` (forward, backward, float64
 * reference). The default path is fused: one kernel computes scores, an online softmax and the
 * weighted sum and keeps each row's logsumexp beside the output, and backward recomputes the
 * probabilities from q, k and that logsumexp, so no `[T, T]` tensor outlives a call. A composed
 * path (`attention_composed.ts`: batched matmul, a masked-softmax kernel, matmul) is kept as an
 * option and as the fallback for head sizes above the fused kernels' register capacity.
 * @module
 */
import { empty } from "../alloc.ts";
import { record } from "./tape.ts";
import type { GpuBackend } from "../backend.ts";
import { contiguousStrides, fmtShape, type Shape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import {
  attentionBackwardKVWgsl,
  attentionBackwardQWgsl,
  attentionForwardWgsl,
  attentionKey,
} from "../../kernels/attention.ts";
import { attentionBlockRows, type AttentionConfig } from "../../kernels/attention_emit.ts";
import { cpuValues } from "./cpu_iter.ts";
import { copyInto, fill, view } from "./copy.ts";
import { composedAttention } from "./attention_composed.ts";

/** Which implementation {@linkcode causalAttention} runs. */
export type AttentionImpl = "fused" | "composed";

/** Options of {@linkcode causalAttention}. */
export interface AttentionOptions {
  /**
   * `"fused"` (default for head sizes up to {@linkcode FUSED_MAX_HEAD}): FlashAttention-style
   * kernels; `"composed"`: `softmax(mask(q·kᵀ·scale))·v` from batched matmuls, keeping the
   * `[B, H, T, T]` probabilities for backward.
   */
  impl?: "fused" | "composed";
}

/** Largest head size the fused kernels hold in registers; larger heads use the composed path. */
export const FUSED_MAX_HEAD = 128;

/** SIMD lanes per workgroup of the fused kernels (lavapipe runs 8 invocations per AVX2 op). */
const LANES = 8;

/**
 * Causal attention: `softmax(q·kᵀ / √hd + mask)·v`, where position `t` attends to positions
 * `≤ t`. Inputs may be any views: the fused kernels read views with unit column stride and
 * 4-aligned offsets and strides in place (e.g. q, k, v permuted out of a fused `[B, T, 3, H, hd]`
 * projection when `hd % 4 == 0`) and copy any other view first.
 * @param q Queries `[B, H, T, hd]`.
 * @param k Keys `[B, H, T, hd]`.
 * @param v Values `[B, H, T, hd]`.
 * @returns The attended values `[B, H, T, hd]`.
 * @example One head
 * ```ts ignore
 * const y = causalAttention(q, k, v); // [B, H, T, hd]
 * ```
 */
export function causalAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions = {},
): Tensor {
  validate(q, k, v);
  const hd = q.shape[3];
  const impl = options.impl ?? (hd <= FUSED_MAX_HEAD ? "fused" : "composed");
  if (impl === "composed") return composedAttention(q, k, v);
  if (impl !== "fused") throw new TypeError(`Unknown attention implementation "${impl}"`);
  if (hd > FUSED_MAX_HEAD) {
    const shape = fmtShape(q.shape);
    throw new RangeError(
      `Cannot run fused attention on head size ${hd} of "${shape}": the limit is ${FUSED_MAX_HEAD}`,
    );
  }
  return fusedAttention(q, k, v);
}

function validate(q: Tensor, k: Tensor, v: Tensor): void {
  const named: [string, Tensor][] = [["q", q], ["k", k], ["v", v]];
  for (const [name, t] of named) {
    t.assertLive("attend with");
    if (t.dtype !== "float32") {
      throw new TypeError(`causalAttention() needs float tensors, got ${name} of dtype ${t.dtype}`);
    }
    if (t.rank !== 4) {
      throw new RangeError(
        `causalAttention() needs [B, H, T, hd] inputs, got ${name} of shape "${fmtShape(t.shape)}"`,
      );
    }
  }
  const [sq, sk, sv] = [q, k, v].map((t) => fmtShape(t.shape));
  if (sk !== sq || sv !== sq) {
    throw new RangeError(`Cannot attend with q "${sq}", k "${sk}" and v "${sv}": shapes differ`);
  }
  if (k.backend !== q.backend || v.backend !== q.backend) {
    throw new TypeError("causalAttention() got tensors on different backends");
  }
}

// ---------------------------------------------------------------------------------------------
// Fused path.

function fusedAttention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const [b, h, t, hd] = q.shape;
  const rows = b * h * t;
  const scale = 1 / Math.sqrt(hd);
  const backend = q.backend;
  let out: Tensor;
  if (backend.kind === "cpu") {
    out = empty(q.shape, "float32", backend);
    cpuForward(q, k, v, out, scale);
  } else {
    // The logsumexp lives in the output's own storage, after the values: it is freed with the
    // output and needs no separate lifetime. It starts at a bindable offset, so the forward
    // writes values and logsumexp through two disjoint ranges (browsers reject overlapping
    // writable bindings).
    const storage = empty([lseStart(rows * hd, backend) + rows], "float32", backend);
    out = view(storage, q.shape, contiguousStrides(q.shape), 0);
    storage.dispose();
    if (out.size > 0) gpuForward(backend, q, k, v, out);
  }
  return record(out, "causalAttention", [q, k, v], (g) => {
    const grads = backend.kind === "cpu"
      ? cpuBackward(q, k, v, g, scale)
      : gpuBackward(backend, q, k, v, out, g, k.requiresGrad || v.requiresGrad);
    return [q, k, v].map((x, i) => {
      const gi = grads[i];
      if (gi !== null && !x.requiresGrad) {
        gi.dispose();
        return null;
      }
      return gi;
    });
  });
}

/** Kernel configuration for `bh` (batch · head) sequences of `t` rows of `hd` columns. */
function fusedConfig(hd: number, t: number, bh: number): AttentionConfig {
  const d = Math.max(4, 2 ** Math.ceil(Math.log2(hd)));
  // More rows per lane reuse each streamed row more, but rows past T are wasted, and LLVM's
  // compile time grows steeply with the owned registers (≈ 10 s cold at 64 vec4s per row set,
  // minutes at 128).
  let tq = Math.min(8, 256 / d, 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(t / LANES)))));
  // Each workgroup runs on one CPU thread: keep every thread busy on small batches.
  const threads = globalThis.navigator?.hardwareConcurrency ?? 1;
  while (tq > 1 && bh * Math.ceil(t / (LANES * tq)) < threads) tq /= 2;
  return { d, lanes: LANES, tq, vecRows: hd % 4 === 0 };
}

// Whether the kernels can read a [B, H, T, hd] view directly as vec4 rows: a whole number of
// vec4s per row, unit column stride, 4-aligned offset and strides (size-1 dimensions never move).
function vec4Readable(x: Tensor): boolean {
  if (x.shape[3] % 4 !== 0 || x.strides[3] !== 1 || x.offset % 4 !== 0) return false;
  return [0, 1, 2].every((d) => x.shape[d] === 1 || x.strides[d] % 4 === 0);
}

// `x` itself when vec4-readable, else a contiguous copy with rows zero-padded to whole vec4s.
function vec4Rows(x: Tensor): Tensor {
  if (vec4Readable(x)) return x;
  const [b, h, t, hd] = x.shape;
  const width = Math.ceil(hd / 4) * 4;
  const padded = empty([b, h, t, width], "float32", x.backend);
  if (width !== hd) fill(padded, 0);
  const region = view(padded, x.shape, padded.strides, 0);
  copyInto(region, x);
  region.dispose();
  return padded;
}

// First element of the logsumexp in the output's storage: after the `values` output values, at
// the device's storage binding alignment.
function lseStart(values: number, backend: GpuBackend): number {
  const align = backend.storageAlign / 4;
  return Math.ceil(values / align) * align;
}

// `lse`: where the kernel finds the logsumexp, in elements from the start of its binding.
function attentionUniforms(
  shape: Shape,
  c: AttentionConfig,
  operands: readonly Tensor[],
  lse: number,
): { words: Uint32Array; workgroups: [number, number, number] } {
  const [b, h, t, hd] = shape;
  const blocks = Math.ceil(t / attentionBlockRows(c));
  const groups = b * h * blocks;
  const u = new Uniforms().u32(t, h, hd, blocks).f32(1 / Math.sqrt(hd));
  u.u32(groups, lse, 0);
  for (const o of operands) {
    const s = o.shape.map((n, d) => (n === 1 ? 0 : o.strides[d]));
    u.u32(o.offset, s[0], s[1], s[2]);
  }
  return { words: u.words, workgroups: grid1d(groups, 1) };
}

// Runs `fn` on vec4-readable versions of the operands, then frees the copies.
function withVec4Rows<T>(xs: readonly Tensor[], fn: (rows: Tensor[]) => T): T {
  const rows = xs.map(vec4Rows);
  try {
    return fn(rows);
  } finally {
    rows.forEach((r, i) => {
      if (r !== xs[i]) r.dispose();
    });
  }
}

function gpuForward(backend: GpuBackend, q: Tensor, k: Tensor, v: Tensor, out: Tensor): void {
  const c = fusedConfig(q.shape[3], q.shape[2], q.shape[0] * q.shape[1]);
  const rows = q.size / q.shape[3];
  const start = lseStart(q.size, backend) * 4;
  const buffer = out.binding().buffer;
  const bytes = (n: number): number => Math.ceil((n * 4) / 16) * 16;
  withVec4Rows([q, k, v], (ops) => {
    const u = attentionUniforms(q.shape, c, ops, 0);
    backend.dispatcher.run({
      key: attentionKey("fwd", c),
      wgsl: () => attentionForwardWgsl(c),
      uniforms: u.words,
      inputs: ops.map((x) => x.binding()),
      outputs: [
        { buffer, offset: 0, size: bytes(q.size) },
        { buffer, offset: start, size: Math.min(bytes(rows), buffer.size - start) },
      ],
      workgroups: u.workgroups,
    });
  });
}

function gpuBackward(
  backend: GpuBackend,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  g: Tensor,
  needKV: boolean,
): (Tensor | null)[] {
  const [b, h, t] = q.shape;
  const dq = empty(q.shape, "float32", backend);
  const dk = needKV ? empty(q.shape, "float32", backend) : null;
  const dv = needKV ? empty(q.shape, "float32", backend) : null;
  if (q.size === 0) return [dq, dk, dv];
  // (logsumexp, D) per query row, written by the first kernel for the second.
  const rowStats = empty([b * h * t * 2], "float32", backend);
  const c = fusedConfig(q.shape[3], t, b * h);
  withVec4Rows([q, k, v, g], (ops) => {
    const u = attentionUniforms(q.shape, c, ops, lseStart(q.size, backend));
    const strided = ops.map((x) => x.binding());
    backend.dispatcher.run({
      key: attentionKey("bwdq", c),
      wgsl: () => attentionBackwardQWgsl(c),
      uniforms: u.words,
      inputs: [...strided, out.binding(), out.binding()],
      outputs: [dq.binding(), rowStats.binding()],
      workgroups: u.workgroups,
    });
    if (dk !== null && dv !== null) {
      backend.dispatcher.run({
        key: attentionKey("bwdkv", c),
        wgsl: () => attentionBackwardKVWgsl(c),
        uniforms: u.words,
        inputs: [...strided, rowStats.binding()],
        outputs: [dk.binding(), dv.binding()],
        workgroups: u.workgroups,
      });
    }
  });
  rowStats.dispose();
  return [dq, dk, dv];
}

// Float64 reference of the forward: per row, exact max-shifted softmax over keys j ≤ i.
function cpuForward(q: Tensor, k: Tensor, v: Tensor, out: Tensor, scale: number): void {
  const [b, h, t, hd] = q.shape;
  const qv = cpuValues(q);
  const kv = cpuValues(k);
  const vv = cpuValues(v);
  const o = out.storage.array!;
  const p = new Float64Array(t);
  for (let z = 0; z < b * h; z++) {
    const base = z * t * hd;
    for (let i = 0; i < t; i++) {
      let m = -Infinity;
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += qv[base + i * hd + d] * kv[base + j * hd + d];
        p[j] = s * scale;
        m = Math.max(m, p[j]);
      }
      let l = 0;
      for (let j = 0; j <= i; j++) {
        p[j] = Math.exp(p[j] - m);
        l += p[j];
      }
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        for (let j = 0; j <= i; j++) acc += p[j] * vv[base + j * hd + d];
        o[base + i * hd + d] = acc / l;
      }
    }
  }
}

// Float64 reference of the backward, recomputing the probabilities row by row.
function cpuBackward(q: Tensor, k: Tensor, v: Tensor, g: Tensor, scale: number): Tensor[] {
  const [b, h, t, hd] = q.shape;
  const qv = cpuValues(q);
  const kv = cpuValues(k);
  const vv = cpuValues(v);
  const gv = cpuValues(g);
  const [dq, dk, dv] = [0, 1, 2].map(() => empty(q.shape, "float32", q.backend));
  const [oq, ok, ov] = [dq, dk, dv].map((x) => x.storage.array!);
  const p = new Float64Array(t);
  const dp = new Float64Array(t);
  for (let z = 0; z < b * h; z++) {
    const base = z * t * hd;
    for (let i = 0; i < t; i++) {
      const qi = base + i * hd;
      let m = -Infinity;
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += qv[qi + d] * kv[base + j * hd + d];
        p[j] = s * scale;
        m = Math.max(m, p[j]);
      }
      let l = 0;
      for (let j = 0; j <= i; j++) {
        p[j] = Math.exp(p[j] - m);
        l += p[j];
      }
      let dsum = 0;
      for (let j = 0; j <= i; j++) {
        p[j] /= l;
        let s = 0;
        for (let d = 0; d < hd; d++) s += gv[qi + d] * vv[base + j * hd + d];
        dp[j] = s;
        dsum += p[j] * s;
      }
      for (let j = 0; j <= i; j++) {
        const kj = base + j * hd;
        const ds = p[j] * (dp[j] - dsum) * scale;
        for (let d = 0; d < hd; d++) {
          ov[kj + d] += p[j] * gv[qi + d];
          oq[qi + d] += ds * kv[kj + d];
          ok[kj + d] += ds * qv[qi + d];
        }
      }
    }
  }
  return [dq, dk, dv];
}
