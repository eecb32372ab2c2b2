/**
 * Capture at an editable linear layer: the keys (the layer's inputs) and the value-gradients
 * (gradients of the loss w.r.t. the layer's output) at selected token rows.
 *
 * Keys are copied out during the forward, detached. Value-gradients come from a pass-through
 * "tap" on the layer output: its forward is the identity (a view, no copy) and its backward
 * stores only the selected rows of the upstream gradient and passes the gradient on unchanged,
 * so no full-size extra gradient is ever kept.
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

/**
 * Receives the selected rows of a gradient during `backward()`. Like a leaf's `.grad`, the
 * rows accumulate over several backward passes until {@linkcode GradSink.zero}.
 */
export class GradSink {
  /** Flat row indices, int32 `[n]` (borrowed; not disposed by the sink). */
  readonly positions: Tensor;
  /** `[n, width]` after a backward pass that reached the tap, else null. Owned by the sink. */
  grad: Tensor | null = null;

  /**
   * An empty sink.
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

/** What a capture tap recorded over one forward and backward pass. */
export interface CapturedRows {
  /** The layer's inputs at the tap's rows, detached, `[n, d_in]`. */
  keys: Tensor;
  /** ∂L/∂(the layer's output) at the tap's rows, `[n, d_out]`. */
  valueGrads: Tensor;
}

/**
 * The capture of one layer for one forward pass (see `EditableLinear.startCapture`): the forward
 * stores the keys, the backward the value-gradients; {@linkcode CaptureTap.take} hands both over.
 */
export class CaptureTap {
  /** Flat row indices into the `B·T` positions of the batch (borrowed). */
  readonly positions: Tensor;
  readonly #sink: GradSink;
  #keys: Tensor | null = null;

  /**
   * An empty tap (normally made by `EditableLinear.startCapture`).
   * @param positions Flat row indices, int32 `[n]`.
   */
  constructor(positions: Tensor) {
    positions.assertLive("capture at");
    if (positions.dtype !== "int32" || positions.rank !== 1) {
      throw new TypeError(
        `Capture positions must be int32 of rank 1, got ${positions.dtype} "${
          fmtShape(positions.shape)
        }"`,
      );
    }
    this.positions = positions;
    this.#sink = new GradSink(positions);
  }

  /**
   * Called by the layer's forward: keeps the keys and returns the tapped output.
   * @param input The layer's input `[..., d_in]`.
   * @param output The layer's output `[..., d_out]`.
   * @returns A view of `output` whose backward fills the value-gradients.
   */
  record(input: Tensor, output: Tensor): Tensor {
    if (this.#keys !== null) {
      throw new Error("A capture tap records one forward pass: take() its rows first");
    }
    this.#keys = keep(captureKeys(input, this.positions));
    return tap(output, this.#sink);
  }

  /**
   * Hands over the keys and value-gradients (the caller owns them) and empties the tap.
   */
  take(): CapturedRows {
    const keys = this.#keys;
    const valueGrads = this.#sink.grad;
    if (keys === null) throw new Error("The capture tap saw no forward pass");
    if (valueGrads === null) throw new Error("The capture tap received no value-gradient");
    this.#keys = null;
    this.#sink.grad = null;
    return { keys, valueGrads };
  }

  /**
   * Hands over the keys alone (the caller owns them) and empties the tap: for a forward-only
   * capture, e.g. under `noGrad`, where no value-gradient is ever computed.
   */
  takeKeys(): Tensor {
    const keys = this.#keys;
    if (keys === null) throw new Error("The capture tap saw no forward pass");
    this.#keys = null;
    this.#sink.zero();
    return keys;
  }

  /** Releases rows that were not taken. */
  dispose(): void {
    this.#keys?.dispose();
    this.#keys = null;
    this.#sink.dispose();
  }
}

// The rows of `x` (seen as [rows, width]) at `positions`, without autograd bookkeeping.
function selectRows(x: Tensor, positions: Tensor): Tensor {
  const width = x.shape[x.rank - 1];
  const flat = reshape(x, [sizeOf(x.shape) / Math.max(width, 1), width]);
  const rows = gather(flat, positions, 0);
  flat.dispose();
  return rows;
}
