/**
 * The WebGPU side of the fused causal attention: kernel configuration per shape, operands made
 * vec4-readable, the uniform block (strided inputs, and the layouts of the rows the kernels read
 * and write), and the three launches. Outputs are written in any row layout with unit column
 * stride: `[B, H, T, hd]` contiguous, heads merged into `[B, T, H·hd]`, or the query, key and
 * value thirds of a `[B, T, 3·H·hd]` gradient. No launch binds one storage twice as writable
 * (browsers reject overlapping writable bindings): the forward writes the values and the
 * logsumexp through two disjoint ranges, and the key/value kernel writes dk and dv through one
 * binding of the storage that holds both.
 * @module
 */
import { empty } from "../alloc.ts";
import type { GpuBackend } from "../backend.ts";
import type { Shape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import {
  attentionBackwardKVWgsl,
  attentionBackwardQWgsl,
  attentionForwardWgsl,
  attentionKey,
} from "../../kernels/attention.ts";
import { attentionBlockRows, type AttentionConfig } from "../../kernels/attention_emit.ts";
import { copyInto, fill, view } from "./copy.ts";

/** SIMD lanes per workgroup of the fused kernels (lavapipe runs 8 invocations per AVX2 op). */
const LANES = 8;

/**
 * Where row `(b, h, t)` of a written operand starts: `offset + b·batch + h·head + t·time`
 * elements (columns contiguous).
 */
export interface RowLayout {
  offset: number;
  batch: number;
  head: number;
  time: number;
}

/**
 * The layout of a contiguous `[B, H, T, hd]` tensor.
 * @param shape `[B, H, T, hd]`.
 */
export function headMajor(shape: Shape): RowLayout {
  const [, h, t, hd] = shape;
  return { offset: 0, batch: h * t * hd, head: t * hd, time: hd };
}

/**
 * The layout of rows of `[B, T, width]` holding the heads side by side from column `offset`
 * (`width = H·hd` merges heads; `3·H·hd` with offset 0, d or 2d addresses q, k or v).
 * @param shape The attention shape `[B, H, T, hd]`.
 */
export function timeMajor(shape: Shape, width: number, offset = 0): RowLayout {
  const [, , t, hd] = shape;
  return { offset, batch: t * width, head: hd, time: width };
}

/**
 * The first element at or after `n` that the device can bind a storage range at (its storage
 * binding alignment, in float32 elements).
 * @param n Elements before it.
 * @param backend The device.
 */
export function bindableStart(n: number, backend: GpuBackend): number {
  const align = backend.storageAlign / 4;
  return Math.ceil(n / align) * align;
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

// Uniforms of `kernels/attention_emit.ts` (ATTN_LAYOUT): sizes, strided inputs, written rows;
// `lse`: where the kernel finds the logsumexp, in elements from the start of its binding.
function attentionUniforms(
  shape: Shape,
  c: AttentionConfig,
  operands: readonly Tensor[],
  dense: readonly RowLayout[],
  lse: number,
): { words: Uint32Array; workgroups: [number, number, number] } {
  const [b, h, t] = shape;
  const blocks = Math.ceil(t / attentionBlockRows(c));
  const groups = b * h * blocks;
  const u = new Uniforms().u32(t, h, shape[3], blocks).f32(1 / Math.sqrt(shape[3]));
  u.u32(groups, lse, 0);
  for (const o of operands) {
    const s = o.shape.map((n, d) => (n === 1 ? 0 : o.strides[d]));
    u.u32(o.offset, s[0], s[1], s[2]);
  }
  while (u.length < 24) u.u32(0);
  for (const l of dense) u.u32(l.offset, l.batch, l.head, l.time);
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

/** The operands of one attention: q, k, v (any views), and the forward's output. */
export interface AttentionIo {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /**
   * A view whose storage holds the `B·H·T·hd` attended values from element 0, then `B·H·T`
   * logsumexps from element {@linkcode bindableStart}`(B·H·T·hd)`.
   */
  out: Tensor;
  /** Layout of the attended rows in `out`'s storage. */
  o: RowLayout;
}

/**
 * Records the forward: the attended rows go to `out`'s storage in layout `o`, and each row's
 * logsumexp after them (from element `bindableStart(B·H·T·hd)` of the same storage).
 */
export function attentionForward(backend: GpuBackend, io: AttentionIo): void {
  const { q, k, v, out, o } = io;
  const c = fusedConfig(q.shape[3], q.shape[2], q.shape[0] * q.shape[1]);
  const rows = q.size / q.shape[3];
  const start = bindableStart(q.size, backend) * 4;
  const buffer = out.binding().buffer;
  const bytes = (n: number): number => Math.ceil((n * 4) / 16) * 16;
  withVec4Rows([q, k, v], (ops) => {
    const u = attentionUniforms(q.shape, c, ops, [o], 0);
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

/** Where the backward writes: dq's storage, one storage for dk and dv, and row layouts. */
export interface AttentionGrads {
  dq: Tensor;
  /**
   * The storage dk and dv are written to (they may share it with dq, as the thirds of one
   * `[B, T, 3·H·hd]` gradient); null when neither k nor v needs a gradient.
   */
  dkv: Tensor | null;
  /** Layouts of dq, dk and dv in their storages. */
  layouts: readonly [RowLayout, RowLayout, RowLayout];
}

/**
 * Records the backward from upstream gradient `g` (any view of the attention shape), given the
 * forward's `out` and its layout.
 */
export function attentionBackward(
  backend: GpuBackend,
  io: AttentionIo,
  g: Tensor,
  grads: AttentionGrads,
): void {
  const { q, k, v, out, o } = io;
  const [b, h, t] = q.shape;
  const { dq, dkv } = grads;
  if (q.size === 0) return;
  // (logsumexp, D) per query row, written by the first kernel for the second.
  const rowStats = empty([b * h * t * 2], "float32", backend);
  const c = fusedConfig(q.shape[3], t, b * h);
  withVec4Rows([q, k, v, g], (ops) => {
    const u = attentionUniforms(
      q.shape,
      c,
      ops,
      [o, ...grads.layouts],
      bindableStart(q.size, backend),
    );
    const strided = ops.map((x) => x.binding());
    backend.dispatcher.run({
      key: attentionKey("bwdq", c),
      wgsl: () => attentionBackwardQWgsl(c),
      uniforms: u.words,
      inputs: [...strided, out.binding(), out.binding()],
      outputs: [dq.binding(), rowStats.binding()],
      workgroups: u.workgroups,
    });
    if (dkv !== null) {
      backend.dispatcher.run({
        key: attentionKey("bwdkv", c),
        wgsl: () => attentionBackwardKVWgsl(c),
        uniforms: u.words,
        inputs: [...strided, rowStats.binding()],
        outputs: [dkv.binding()],
        workgroups: u.workgroups,
      });
    }
  });
  rowStats.dispose();
}
