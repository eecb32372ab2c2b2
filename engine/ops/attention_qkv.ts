/**
 * Causal multi-head self-attention straight from a fused `[B, T, 3d]` query/key/value projection
 * to merged `[B, T, d]` heads. On WebGPU the fused kernels read q, k and v through strides, write
 * the merged rows directly, and the backward writes the three head gradients into the thirds of
 * one `[B, T, 3d]` gradient: no head split, merge or gradient-assembly copies. Elsewhere (the
 * float64 reference, head sizes above the fused kernels' capacity) it is composed from views and
 * {@linkcode causalAttention}.
 * @module
 */
import { empty } from "../alloc.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { record } from "./tape.ts";
import { view } from "./copy.ts";
import { permute, reshape, slice } from "./view.ts";
import { causalAttention, FUSED_MAX_HEAD } from "./attention.ts";
import { attentionBackward, attentionForward, bindableStart, timeMajor } from "./attention_gpu.ts";

/**
 * `softmax(q·kᵀ/√hd + causal mask)·v` per head, heads merged.
 * @param qkv `[B, T, 3d]`: queries, keys and values side by side, each `nHead` heads of `d/nHead`.
 * @param nHead Number of heads (divides `d`).
 * @returns `[B, T, d]`, head `h` in columns `h·hd .. (h+1)·hd`.
 */
export function qkvCausalAttention(qkv: Tensor, nHead: number): Tensor {
  qkv.assertLive("attend with");
  const [b, t, d3] = qkv.shape;
  if (
    qkv.rank !== 3 || qkv.dtype !== "float32" || d3 % 3 !== 0 || !Number.isInteger(nHead) ||
    nHead < 1 || (d3 / 3) % nHead !== 0
  ) {
    throw new RangeError(
      `Cannot split ${qkv.dtype} "${
        fmtShape(qkv.shape)
      }" into query, key and value of ${nHead} heads`,
    );
  }
  const d = d3 / 3;
  const hd = d / nHead;
  const backend = qkv.backend;
  if (backend.kind === "cpu" || hd > FUSED_MAX_HEAD || qkv.size === 0) {
    return composed(qkv, nHead);
  }
  const shape = [b, nHead, t, hd];
  const [sb, st, sc] = qkv.strides;
  const parts = [0, 1, 2].map((p) =>
    view(qkv, shape, [sb, hd * sc, st, sc], qkv.offset + p * d * sc)
  );
  // The logsumexp of every row lives after the values (from a bindable offset), in the output's
  // own storage.
  const storage = empty([bindableStart(b * t * d, backend) + b * nHead * t], "float32", backend);
  const out = view(storage, [b, t, d], [t * d, d, 1], 0);
  storage.dispose();
  const io = { q: parts[0], k: parts[1], v: parts[2], out, o: timeMajor(shape, d) };
  attentionForward(backend, io);
  record(out, "qkvCausalAttention", [qkv], (g) => {
    const [gb, gt, gc] = g.strides;
    const heads = view(g, shape, [gb, hd * gc, gt, gc], g.offset);
    const full = empty(qkv.shape, "float32", backend);
    attentionBackward(backend, io, heads, {
      dq: full,
      dkv: full,
      layouts: [timeMajor(shape, d3, 0), timeMajor(shape, d3, d), timeMajor(shape, d3, 2 * d)],
    });
    heads.dispose();
    for (const p of parts) p.dispose();
    return [full];
  });
  if (out.node === null) { for (const p of parts) p.dispose(); }
  return out;
}

// The same function from differentiable views, slices and `causalAttention`.
function composed(qkv: Tensor, nHead: number): Tensor {
  const [b, t, d3] = qkv.shape;
  const d = d3 / 3;
  const [q, k, v] = [0, 1, 2].map((p) =>
    permute(
      reshape(slice(qkv, [0, 0, p * d], [b, t, (p + 1) * d]), [b, t, nHead, d / nHead]),
      [0, 2, 1, 3],
    )
  );
  return reshape(permute(causalAttention(q, k, v), [0, 2, 1, 3]), [b, t, d]);
}
