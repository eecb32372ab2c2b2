/**
 * Causal self-attention over a fused `c_attn` projection: the query, key and value heads are
 * strided `[B, H, T, hd]` views of the `[B, T, 3d]` projection (no copies on the way in, the
 * attention kernels read through strides), and the backward writes the three head gradients
 * straight into one `[B, T, 3d]` gradient (no zero fills, no sums of full-size partial
 * gradients).
 * @module
 */
import { empty } from "../../alloc.ts";
import { isGradEnabled, record } from "../../autograd.ts";
import { fmtShape } from "../../shape.ts";
import type { Tensor } from "../../tensor.ts";
import { alias, copyInto, fill, view } from "../../ops/copy.ts";
import { permute, reshape } from "../../ops/view.ts";
import { causalAttention } from "../../ops/attention.ts";

/** Which third of the fused projection: 0 = query, 1 = key, 2 = value. */
export type QkvPart = 0 | 1 | 2;

/**
 * A strided `[B, H, T, hd]` view of one part of a fused `[B, T, 3d]` projection, without
 * autograd.
 * @param qkv Output of `c_attn`, `[B, T, 3d]`.
 * @param part 0 = query, 1 = key, 2 = value.
 * @param nHead Number of heads (divides `d`).
 * @returns The view `[B, H, T, d / H]`, sharing `qkv`'s storage.
 */
export function headsView(qkv: Tensor, part: QkvPart, nHead: number): Tensor {
  qkv.assertLive("split heads of");
  const [b, t, d3] = qkv.shape;
  if (qkv.rank !== 3 || d3 % 3 !== 0 || (d3 / 3) % nHead !== 0) {
    throw new RangeError(
      `Cannot split "${fmtShape(qkv.shape)}" into query, key and value of ${nHead} heads`,
    );
  }
  const d = d3 / 3;
  const hd = d / nHead;
  const [sb, st, sc] = qkv.strides;
  return view(qkv, [b, nHead, t, hd], [sb, hd * sc, st, sc], qkv.offset + part * d * sc);
}

/**
 * Causal multi-head attention of the heads of a fused projection, `softmax(q·kᵀ/√hd)·v`.
 * @param qkv Output of `c_attn`, `[B, T, 3d]` (query, key, value thirds).
 * @param nHead Number of heads.
 * @returns Attention output `[B, H, T, hd]`.
 */
export function qkvAttention(qkv: Tensor, nHead: number): Tensor {
  const parts = ([0, 1, 2] as const).map((p) => headsView(qkv, p, nHead));
  if (!isGradEnabled() || !qkv.requiresGrad) {
    const out = causalAttention(parts[0], parts[1], parts[2]);
    for (const p of parts) p.dispose();
    return out;
  }
  // The head views act as leaves of an inner graph whose backward is run from this op's rule;
  // their gradients are then copied into the thirds of one fresh [B, T, 3d] tensor.
  for (const p of parts) p.requiresGrad = true;
  const inner = causalAttention(parts[0], parts[1], parts[2]);
  return record(alias(inner), "qkvAttention", [qkv], (g) => {
    inner.backward(g);
    const full = empty(qkv.shape, "float32", g.backend);
    // Only a part that received no gradient (none today) leaves a region to zero.
    if (parts.some((p) => p.grad === null)) fill(full, 0);
    const [, t, d3] = qkv.shape;
    for (const [i, p] of parts.entries()) {
      if (p.grad === null) continue;
      const region = view(full, p.shape, [t * d3, p.shape[3], d3, 1], (i * d3) / 3);
      copyInto(region, p.grad);
      region.dispose();
      p.grad.dispose();
      p.grad = null;
    }
    return [full];
  });
}

/**
 * Merges `[B, H, T, hd]` heads into `[B, T, H·hd]` rows (one copy).
 * @param y Attention output.
 */
export function mergeHeads(y: Tensor): Tensor {
  const [b, h, t, hd] = y.shape;
  return reshape(permute(y, [0, 2, 1, 3]), [b, t, h * hd]);
}
