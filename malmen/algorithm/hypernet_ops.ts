/**
 * Fused autograd ops of the MALMEN hyper-network, each with a float64 reference: the residual
 * block tail `h + s_k ⊙ ReLU(q + b) + t_k` and the value differences.
 * @module
 */
import { empty } from "../../engine/alloc.ts";
import { record } from "../../engine/autograd.ts";
import { cpuValues } from "../../engine/ops/cpu_iter.ts";
import { materialize, view } from "../../engine/ops/copy.ts";
import { elementwise } from "../../engine/ops/elementwise.ts";
import { reduceRaw } from "../../engine/ops/reduce.ts";
import { fmtShape } from "../../engine/shape.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import {
  tailBackwardWgsl,
  tailForwardWgsl,
  valueDiffBackwardKey,
  valueDiffBackwardWgsl,
  valueDiffForwardWgsl,
} from "../../kernels/malmen/hypernet.ts";

function checkFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    t.assertLive(op);
    if (t.dtype !== "float32") throw new TypeError(`${op}() needs float tensors, got ${t.dtype}`);
    if (t.backend !== ts[0].backend) {
      throw new TypeError(`${op}() got tensors on different backends`);
    }
  }
}

// Runs `fn` on contiguous versions of `ts` and disposes the copies it made.
function withDense<T>(ts: readonly Tensor[], fn: (d: Tensor[]) => T): T {
  const d = ts.map((t) => (t.isContiguous ? t : materialize(t)));
  try {
    return fn(d);
  } finally {
    d.forEach((x, i) => {
      if (x !== ts[i]) x.dispose();
    });
  }
}

/**
 * The residual block tail `h + s ⊙ ReLU(q + b) + t` (scale and shift after the ReLU).
 * @param h Block input `[n, D]`.
 * @param q Low-rank pre-activation `h·A·B` `[n, D]`.
 * @param bias b `[D]`.
 * @param scale s_k `[D]` (the module's row of the scale table).
 * @param shift t_k `[D]`.
 * @returns The block output `[n, D]`.
 */
export function residualTail(
  h: Tensor,
  q: Tensor,
  bias: Tensor,
  scale: Tensor,
  shift: Tensor,
): Tensor {
  checkFloat("residualTail", h, q, bias, scale, shift);
  if (h.rank !== 2 || fmtShape(h.shape) !== fmtShape(q.shape)) {
    throw new RangeError(
      `residualTail() needs h and q of one 2-D shape, got "${fmtShape(h.shape)}" and "${
        fmtShape(q.shape)
      }"`,
    );
  }
  const [n, d] = h.shape;
  for (const v of [bias, scale, shift]) {
    if (v.size !== d || v.rank !== 1) {
      throw new RangeError(
        `residualTail() of "${fmtShape(h.shape)}" needs "[${d}]" vectors, got "${
          fmtShape(v.shape)
        }"`,
      );
    }
  }
  const backend = h.backend;
  const out = empty([n, d], "float32", backend);
  withDense([h, q, bias, scale, shift], ([hd, qd, bd, sd, td]) => {
    if (backend.kind === "cpu") {
      const [hv, qv, bv, sv, tv] = [hd, qd, bd, sd, td].map(cpuValues);
      const o = out.storage.array as Float64Array;
      for (let i = 0; i < n * d; i++) {
        const c = i % d;
        o[i] = hv[i] + sv[c] * Math.max(qv[i] + bv[c], 0) + tv[c];
      }
      return;
    }
    backend.dispatcher.run({
      key: "malmen:tail:fwd",
      wgsl: tailForwardWgsl,
      uniforms: new Uniforms().u32(n * d, d, hd.offset, qd.offset, bd.offset, sd.offset, td.offset)
        .words,
      inputs: [hd, qd, bd, sd, td].map((t) => t.binding()),
      outputs: [out.binding()],
      workgroups: grid1d(n * d),
    });
  });
  return record(out, "residualTail", [h, q, bias, scale, shift], (g) => {
    const { gq, sums } = tailBackward(g, q, bias, scale);
    const row = (i: number): Tensor => view(sums, [d], [1], sums.offset + i * d);
    const grads = [g, gq, row(0), row(1), row(2)];
    sums.dispose();
    return grads;
  });
}

function tailBackward(
  g: Tensor,
  q: Tensor,
  bias: Tensor,
  scale: Tensor,
): { gq: Tensor; sums: Tensor } {
  const [n, d] = q.shape;
  const backend = g.backend;
  const gq = empty([n, d], "float32", backend);
  const sums = empty([3, d], "float32", backend);
  withDense([g, q, bias, scale], ([gd, qd, bd, sd]) => {
    if (backend.kind === "cpu") {
      const [gv, qv, bv, sv] = [gd, qd, bd, sd].map(cpuValues);
      const o = gq.storage.array as Float64Array;
      const s = sums.storage.array as Float64Array;
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < d; c++) {
          const i = r * d + c;
          const a = qv[i] + bv[c];
          const dq = a > 0 ? gv[i] * sv[c] : 0;
          o[i] = dq;
          s[c] += dq;
          s[d + c] += gv[i] * Math.max(a, 0);
          s[2 * d + c] += gv[i];
        }
      }
      return;
    }
    backend.dispatcher.run({
      key: "malmen:tail:bwd",
      wgsl: tailBackwardWgsl,
      uniforms: new Uniforms().u32(n, d, gd.offset, qd.offset, bd.offset, sd.offset).words,
      inputs: [gd, qd, bd, sd].map((t) => t.binding()),
      outputs: [gq.binding(), sums.binding()],
      workgroups: grid1d(d),
    });
  });
  return { gq, sums };
}

/**
 * Value differences `d_j = −η (u_j·ũ_j) δ̃_j`, with ũ_j the first d_in and δ̃_j the last
 * d_out entries of the hyper-network output h_j.
 * @param keys Raw (un-normalised) keys u `[n, d_in]`.
 * @param h Hyper-network output `[n, d_in + d_out]`.
 * @param eta η_k, one element (the module's entry of the η table).
 * @returns D_v `[n, d_out]`.
 */
export function valueDiff(keys: Tensor, h: Tensor, eta: Tensor): Tensor {
  checkFloat("valueDiff", keys, h, eta);
  if (
    keys.rank !== 2 || h.rank !== 2 || keys.shape[0] !== h.shape[0] || h.shape[1] <= keys.shape[1]
  ) {
    throw new RangeError(
      `valueDiff() needs keys "[n, d_in]" and outputs "[n, d_in + d_out]", got "${
        fmtShape(keys.shape)
      }" and "${fmtShape(h.shape)}"`,
    );
  }
  if (eta.size !== 1) {
    throw new RangeError(`valueDiff() needs a one-element eta, got "${fmtShape(eta.shape)}"`);
  }
  const [n, dIn] = keys.shape;
  const dOut = h.shape[1] - dIn;
  const backend = keys.backend;
  const out = empty([n, dOut], "float32", backend);
  withDense([keys, h, eta], ([ud, hd, ed]) => {
    if (backend.kind === "cpu") {
      const [uv, hv, ev] = [ud, hd, ed].map(cpuValues);
      const o = out.storage.array as Float64Array;
      for (let j = 0; j < n; j++) {
        const k = -ev[0] * rowDot(uv, hv, j, dIn, dOut);
        for (let c = 0; c < dOut; c++) o[j * dOut + c] = k * hv[j * (dIn + dOut) + dIn + c];
      }
      return;
    }
    backend.dispatcher.run({
      key: "malmen:vdiff:fwd",
      wgsl: valueDiffForwardWgsl,
      uniforms: new Uniforms().u32(n, dIn, dOut, ud.offset, hd.offset, ed.offset).words,
      inputs: [ud, hd, ed].map((t) => t.binding()),
      outputs: [out.binding()],
      workgroups: grid1d(n),
    });
  });
  return record(out, "valueDiff", [keys, h, eta], (g) => {
    const { gh, pe, gu } = valueDiffBackward(keys, h, eta, g, keys.requiresGrad);
    let gEta: Tensor | null = null;
    if (eta.requiresGrad) {
      const s = reduceRaw(pe, [0], "sum");
      const flat = elementwise("neg", [s]);
      s.dispose();
      gEta = view(flat, eta.shape, eta.shape.map(() => 0), flat.offset);
      flat.dispose();
    }
    pe.dispose();
    return [gu, h.requiresGrad ? gh : (gh.dispose(), null), gEta];
  });
}

function rowDot(
  u: ArrayLike<number>,
  h: ArrayLike<number>,
  j: number,
  dIn: number,
  dOut: number,
): number {
  let a = 0;
  for (let c = 0; c < dIn; c++) a += u[j * dIn + c] * h[j * (dIn + dOut) + c];
  return a;
}

function valueDiffBackward(
  keys: Tensor,
  h: Tensor,
  eta: Tensor,
  g: Tensor,
  withKeys: boolean,
): { gh: Tensor; pe: Tensor; gu: Tensor | null } {
  const [n, dIn] = keys.shape;
  const d = h.shape[1];
  const dOut = d - dIn;
  const backend = keys.backend;
  const gh = empty([n, d], "float32", backend);
  const pe = empty([n], "float32", backend);
  const gu = withKeys ? empty([n, dIn], "float32", backend) : null;
  withDense([keys, h, eta, g], ([ud, hd, ed, gd]) => {
    if (backend.kind === "cpu") {
      const [uv, hv, ev, gv] = [ud, hd, ed, gd].map(cpuValues);
      const [o, p] = [gh, pe].map((t) => t.storage.array as Float64Array);
      const ou = gu?.storage.array as Float64Array | undefined;
      const et = ev[0];
      for (let j = 0; j < n; j++) {
        const a = rowDot(uv, hv, j, dIn, dOut);
        let c = 0;
        for (let q = 0; q < dOut; q++) c += gv[j * dOut + q] * hv[j * d + dIn + q];
        for (let q = 0; q < dIn; q++) {
          o[j * d + q] = -et * c * uv[j * dIn + q];
          if (ou) ou[j * dIn + q] = -et * c * hv[j * d + q];
        }
        for (let q = 0; q < dOut; q++) o[j * d + dIn + q] = -et * a * gv[j * dOut + q];
        p[j] = a * c;
      }
      return;
    }
    backend.dispatcher.run({
      key: valueDiffBackwardKey(withKeys),
      wgsl: () => valueDiffBackwardWgsl(withKeys),
      uniforms: new Uniforms().u32(n, dIn, dOut, ud.offset, hd.offset, ed.offset, gd.offset).words,
      inputs: [ud, hd, ed, gd].map((t) => t.binding()),
      outputs: gu === null
        ? [gh.binding(), pe.binding()]
        : [gh.binding(), pe.binding(), gu.binding()],
      workgroups: grid1d(n),
    });
  });
  return { gh, pe, gu };
}
