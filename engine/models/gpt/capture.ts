/**
 * MALMEN's capture points: the keys (inputs of an edited linear layer) and the value-gradients
 * (gradients of the loss w.r.t. that layer's output) at selected token positions.
 *
 * Keys are copied out during the forward, detached. Value-gradients come from a pass-through
 * "tap" on the layer output: its forward is the identity (a view, no copy) and its backward
 * stores only the selected rows of the upstream gradient in a {@linkcode GradSink} and passes the
 * gradient on unchanged, so no full-size extra gradient is ever kept.
 * @module
 */
import { isGradEnabled, noGrad, record } from "../../autograd.ts";
import { keep } from "../../scope.ts";
import { fmtShape, sizeOf } from "../../shape.ts";
import type { Tensor } from "../../tensor.ts";
import { addInto } from "../../ops/elementwise.ts";
import { alias } from "../../ops/copy.ts";
import { reshape } from "../../ops/view.ts";
import { gather } from "../../ops/gather.ts";

/** Which layers and rows a forward pass captures. */
export interface CaptureRequest {
  /** Block indices whose `mlp.c_proj` is captured (each at most once). */
  readonly layers: readonly number[];
  /** Flat row indices into the `B·T` positions of the batch, int32 `[n]`. */
  readonly positions: Tensor;
}

/**
 * Receives the selected rows of a gradient during `backward()`. Like a leaf's `.grad`, the
 * rows accumulate over several backward passes until {@linkcode GradSink.zero}.
 */
export class GradSink {
  /** The row indices (borrowed from the request; not disposed by the sink). */
  readonly positions: Tensor;
  /** `[n, width]` after a backward pass that reached the tap, else null. Owned by the sink. */
  grad: Tensor | null = null;

  /**
   * Creates an empty sink.
   * @param positions Flat row indices, int32 `[n]`.
   */
  constructor(positions: Tensor) {
    this.positions = positions;
  }

  /**
   * Adds the selected rows of a full gradient (called by the tap's backward, under `noGrad`).
   * @param full Gradient of the tapped tensor `[..., width]`.
   */
  collect(full: Tensor): void {
    const rows = selectRows(full, this.positions);
    if (this.grad === null) this.grad = keep(rows);
    else {
      addInto(this.grad, rows);
      rows.dispose();
    }
  }

  /** Drops the collected gradient. */
  zero(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /** Releases the collected gradient (the positions stay with their owner). */
  dispose(): void {
    this.zero();
  }
}

/** What one captured layer yields. */
export interface LayerCapture {
  /** Block index. */
  readonly layer: number;
  /** Inputs of `mlp.c_proj` at the requested rows, detached, `[n, dInner]`. */
  readonly keys: Tensor;
  /** After backward, `.grad` is ∂L/∂(output of `mlp.c_proj`) at the requested rows, `[n, d]`. */
  readonly valueGrads: GradSink;
}

/**
 * Checks a capture request against a batch.
 * @param request The request.
 * @param nLayer Blocks of the model.
 * @param rows `B·T` of the batch.
 */
export function checkCapture(request: CaptureRequest, nLayer: number, rows: number): void {
  const { layers, positions } = request;
  positions.assertLive("capture at");
  if (positions.dtype !== "int32" || positions.rank !== 1) {
    throw new TypeError(
      `Capture positions must be int32 of rank 1, got ${positions.dtype} "${
        fmtShape(positions.shape)
      }"`,
    );
  }
  const seen = new Set<number>();
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= nLayer) {
      throw new RangeError(`Cannot capture layer ${l}: the model has ${nLayer} layers`);
    }
    if (seen.has(l)) throw new RangeError(`Layer ${l} is listed twice in the capture request`);
    seen.add(l);
  }
  if (rows === 0 && positions.size > 0) {
    throw new RangeError("Cannot capture rows of an empty batch");
  }
}

/**
 * Copies the requested rows of `x` out of the graph.
 * @param x Activations `[..., width]`.
 * @param positions Flat row indices, int32 `[n]`.
 * @returns `[n, width]`, detached.
 */
export function captureKeys(x: Tensor, positions: Tensor): Tensor {
  return noGrad(() => selectRows(x, positions));
}

/**
 * The pass-through tap: returns a view equal to `x` whose backward stores the selected rows of
 * the incoming gradient in `sink` and hands the gradient on unchanged. Under `noGrad` it is a
 * plain view. When `x` needs no gradient (a frozen model without a shift) the tap starts the
 * graph itself, so `backward()` still reaches it and stops there.
 * @param x The tapped tensor `[..., width]`.
 * @param sink Receives the rows.
 * @returns A view of `x`.
 */
export function tap(x: Tensor, sink: GradSink): Tensor {
  const out = alias(x);
  if (!isGradEnabled()) return out;
  if (x.requiresGrad) {
    return record(out, "tap", [x], (g) => {
      sink.collect(g);
      return [g];
    });
  }
  out.requiresGrad = true;
  out.node = {
    op: "tap",
    inputs: [],
    backward: (g) => {
      sink.collect(g);
      return [];
    },
  };
  return out;
}

// The rows of `x` (seen as [rows, width]) at `positions`, without autograd bookkeeping.
function selectRows(x: Tensor, positions: Tensor): Tensor {
  const width = x.shape[x.rank - 1];
  const flat = reshape(x, [sizeOf(x.shape) / Math.max(width, 1), width]);
  const rows = gather(flat, positions, 0);
  flat.dispose();
  return rows;
}
