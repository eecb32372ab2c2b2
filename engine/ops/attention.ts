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
import { contiguousStrides, fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { cpuValues } from "./cpu_iter.ts";
import { view } from "./copy.ts";
import { composedAttention } from "./attention_composed.ts";
import { attentionBackward, attentionForward, bindableStart, headMajor } from "./attention_gpu.ts";

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
    const storage = empty([bindableStart(rows * hd, backend) + rows], "float32", backend);
    out = view(storage, q.shape, contiguousStrides(q.shape), 0);
    storage.dispose();
    if (out.size > 0) attentionForward(backend, { q, k, v, out, o: headMajor(q.shape) });
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

// Fresh [B, H, T, hd] gradients from the fused backward kernels. dk and dv share one storage
// (dv from a bindable offset): the kernel writing both binds it once.
function gpuBackward(
  backend: GpuBackend,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  g: Tensor,
  needKV: boolean,
): (Tensor | null)[] {
  const dq = empty(q.shape, "float32", backend);
  const l = headMajor(q.shape);
  const at = bindableStart(q.size, backend);
  const dkv = needKV ? empty([at + q.size], "float32", backend) : null;
  const layouts = [l, l, { ...l, offset: at }] as const;
  attentionBackward(backend, { q, k, v, out, o: l }, g, { dq, dkv, layouts });
  if (dkv === null) return [dq, null, null];
  const strides = contiguousStrides(q.shape);
  const dk = view(dkv, q.shape, strides, 0);
  const dv = view(dkv, q.shape, strides, at);
  dkv.dispose();
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
