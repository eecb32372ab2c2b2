/**
 * Softmax cross-entropy over the last axis with int32 targets: a fused forward (per-row
 * logsumexp and loss in one pass, the reduction and the target count on the device) and a fused
 * backward, with float64 references.
 * @module
 */
import { empty } from "../alloc.ts";
import { record } from "./tape.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { Uniforms } from "../../kernels/common.ts";
import {
  CROSS_ENTROPY_PASSES,
  crossEntropyBackwardWgsl,
  crossEntropyForwardWgsl,
  crossEntropyKey,
  crossEntropyReduceWgsl,
  type LossReduction,
} from "../../kernels/loss.ts";
import { cpuValues } from "./cpu_iter.ts";
import { dense, floatRows, releaseDense, type RowShape, runRows } from "./rows.ts";

/** Options of {@linkcode crossEntropy}. */
export interface CrossEntropyOptions {
  /** Target value whose rows contribute no loss and no gradient (default -100). */
  ignoreIndex?: number;
  /** `"mean"` over the non-ignored targets (default), `"sum"`, or `"none"` (one loss per row). */
  reduction?: "mean" | "sum" | "none";
}

/** What the backward needs from the forward. */
interface Saved {
  readonly logits: Tensor;
  readonly targets: Tensor;
  /** Per-row logsumexp `[N]`. */
  readonly lse: Tensor;
  /** `[1]`: 1 / (non-ignored count) for a mean (0 when none), else 1. */
  readonly scale: Tensor;
  readonly shape: RowShape;
  readonly ignoreIndex: number;
  readonly reduction: LossReduction;
}

/**
 * Cross-entropy of softmax(logits) against class indices: per row `logsumexp(x) − x[target]`.
 * Logits `[..., V]` pair with targets `[...]` (leading dimensions are flattened into rows).
 * Rows whose target equals `ignoreIndex` contribute 0 loss and 0 gradient; `"mean"` divides by
 * the number of other rows, counted on the device (no readback), and gives 0 when there are
 * none. A target outside `[0, V)` that is not `ignoreIndex` throws on the CPU backend; the
 * WebGPU kernels cannot raise errors and treat such a row as ignored (0 loss, 0 gradient, not
 * counted).
 * @param logits Float logits `[..., V]` (any view).
 * @param targets Int32 class indices `[...]`.
 * @param options `ignoreIndex` (default -100) and `reduction` (default `"mean"`).
 * @returns A scalar (`"mean"`, `"sum"`) or the per-row losses of `targets`' shape (`"none"`).
 */
export function crossEntropy(
  logits: Tensor,
  targets: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  const shape = floatRows(logits, "crossEntropy");
  targets.assertLive("crossEntropy");
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? "mean";
  checkArgs(logits, targets, ignoreIndex, reduction);
  const backend = logits.backend;
  if (backend.kind === "cpu") checkTargetsRef(targets, shape.len, ignoreIndex);
  const lse = empty([shape.rows], "float32", backend);
  const scale = empty([1], "float32", backend);
  const outShape = reduction === "none" ? targets.shape : [];
  let out: Tensor;
  if (backend.kind === "cpu") {
    out = empty(outShape, "float32", backend);
    crossEntropyRef(logits, targets, ignoreIndex, reduction, {
      out: out.storage.array as Float64Array,
      lse: lse.storage.array as Float64Array,
      scale: scale.storage.array as Float64Array,
    });
  } else {
    const x = dense(logits);
    const t = dense(targets);
    const rowLoss = empty(reduction === "none" ? outShape : [shape.rows], "float32", backend);
    runRows(backend, shape, {
      key: (plan) => crossEntropyKey("fwd", { plan }),
      wgsl: crossEntropyForwardWgsl,
      extra: [x.offset, t.offset, ignoreIndex >>> 0],
      inputs: [x, t],
      outputs: [rowLoss, lse],
      passes: CROSS_ENTROPY_PASSES.forward,
    });
    if (reduction === "none") out = rowLoss;
    else {
      out = empty(outShape, "float32", backend);
      backend.dispatcher.run({
        key: crossEntropyKey("reduce"),
        wgsl: crossEntropyReduceWgsl,
        uniforms: new Uniforms().u32(shape.rows, shape.len, 0, t.offset, ignoreIndex >>> 0)
          .u32(reduction === "mean" ? 1 : 0).words,
        inputs: [rowLoss.binding(), t.binding()],
        outputs: [out.binding(), scale.binding()],
        workgroups: [1, 1, 1],
      });
      rowLoss.dispose();
    }
    releaseDense([logits, x], [targets, t]);
  }
  const saved: Saved = { logits, targets, lse, scale, shape, ignoreIndex, reduction };
  record(out, "crossEntropy", [logits, targets], (g) => {
    const dx = crossEntropyBackward(saved, g);
    lse.dispose();
    scale.dispose();
    return [dx, null];
  });
  if (out.node === null) {
    lse.dispose();
    scale.dispose();
  }
  return out;
}

function checkArgs(logits: Tensor, targets: Tensor, ignoreIndex: number, reduction: string): void {
  if (targets.dtype !== "int32") {
    throw new TypeError(
      `crossEntropy() needs int32 targets, got ${targets.dtype} of shape "${
        fmtShape(targets.shape)
      }"`,
    );
  }
  const want = logits.shape.slice(0, -1);
  if (fmtShape(targets.shape) !== fmtShape(want)) {
    throw new RangeError(
      `Cannot compute crossEntropy() of logits "${fmtShape(logits.shape)}" and targets ` +
        `"${fmtShape(targets.shape)}": targets must have shape "${fmtShape(want)}"`,
    );
  }
  if (targets.backend !== logits.backend) {
    throw new TypeError("crossEntropy() got logits and targets on different backends");
  }
  if (!Number.isInteger(ignoreIndex) || Math.abs(ignoreIndex) > 2 ** 31 - 1) {
    throw new RangeError(`crossEntropy() ignoreIndex must be an int32, got ${ignoreIndex}`);
  }
  if (reduction !== "mean" && reduction !== "sum" && reduction !== "none") {
    throw new RangeError(
      `crossEntropy() reduction must be "mean", "sum" or "none", got "${reduction}"`,
    );
  }
}

/**
 * Gradient of {@linkcode crossEntropy} w.r.t. the logits, without autograd:
 * `(softmax(x) − onehot(t)) · c`, with `c` the upstream gradient (per row for `"none"`) times
 * 1 / count for a mean, and 0 on ignored rows.
 * @param s Tensors and settings saved by the forward.
 * @param g Upstream gradient of the loss.
 * @returns The logits gradient (contiguous, the logits' shape).
 */
function crossEntropyBackward(s: Saved, g: Tensor): Tensor {
  s.logits.assertLive("crossEntropy backward");
  const dx = empty(s.logits.shape, "float32", s.logits.backend);
  const backend = s.logits.backend;
  if (backend.kind === "cpu") {
    crossEntropyGradRef(s, cpuValues(g) as Float64Array, dx.storage.array as Float64Array);
    return dx;
  }
  const x = dense(s.logits);
  const t = dense(s.targets);
  const gd = dense(g);
  runRows(backend, s.shape, {
    key: (plan) => crossEntropyKey("bwd", { reduction: s.reduction, plan }),
    wgsl: (plan) => crossEntropyBackwardWgsl(s.reduction, plan),
    extra: [x.offset, t.offset, s.ignoreIndex >>> 0, gd.offset],
    inputs: s.reduction === "mean" ? [x, s.lse, t, gd, s.scale] : [x, s.lse, t, gd],
    outputs: [dx],
    passes: CROSS_ENTROPY_PASSES.backward,
  });
  releaseDense([s.logits, x], [s.targets, t], [g, gd]);
  return dx;
}

// The CPU reference rejects targets the GPU kernels would silently ignore.
function checkTargetsRef(targets: Tensor, len: number, ignoreIndex: number): void {
  const tg = cpuValues(targets);
  for (let r = 0; r < tg.length; r++) {
    const t = tg[r];
    if (t !== ignoreIndex && (t < 0 || t >= len)) {
      throw new RangeError(
        `crossEntropy() target ${t} at row ${r} is outside [0, ${len}) ` +
          `and is not the ignore index ${ignoreIndex}`,
      );
    }
  }
}

// Float64 reference forward; fills the loss, the per-row logsumexp and the gradient scale.
function crossEntropyRef(
  logits: Tensor,
  targets: Tensor,
  ignoreIndex: number,
  reduction: LossReduction,
  dst: { out: Float64Array; lse: Float64Array; scale: Float64Array },
): void {
  const x = cpuValues(logits) as Float64Array;
  const tg = cpuValues(targets) as Int32Array;
  const len = logits.shape[logits.rank - 1];
  let total = 0;
  let count = 0;
  for (let r = 0; r < tg.length; r++) {
    const base = r * len;
    let m = -Infinity;
    for (let j = 0; j < len; j++) m = Math.max(m, x[base + j]);
    let s = 0;
    for (let j = 0; j < len; j++) s += Math.exp(x[base + j] - m);
    const lse = m + Math.log(s);
    dst.lse[r] = lse;
    const t = tg[r];
    let loss = 0;
    if (t !== ignoreIndex) {
      loss = lse - x[base + t];
      count++;
    }
    total += loss;
    if (reduction === "none") dst.out[r] = loss;
  }
  const scale = reduction === "mean" ? (count > 0 ? 1 / count : 0) : 1;
  dst.scale[0] = scale;
  if (reduction !== "none") dst.out[0] = total * scale;
}

// Float64 reference backward.
function crossEntropyGradRef(s: Saved, g: Float64Array, dx: Float64Array): void {
  const x = cpuValues(s.logits) as Float64Array;
  const tg = cpuValues(s.targets) as Int32Array;
  const lse = s.lse.storage.array as Float64Array;
  const scale = (s.scale.storage.array as Float64Array)[0];
  const len = s.shape.len;
  for (let r = 0; r < s.shape.rows; r++) {
    const t = tg[r];
    const c = t === s.ignoreIndex ? 0 : (s.reduction === "none" ? g[r] : g[0] * scale);
    for (let j = 0; j < len; j++) {
      const i = r * len + j;
      dx[i] = (Math.exp(x[i] - lse[r]) - (j === t ? 1 : 0)) * c;
    }
  }
}
