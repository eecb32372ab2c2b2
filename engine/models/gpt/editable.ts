/**
 * The edited projection of a block (`mlp.c_proj`): a linear layer whose weight can be shifted
 * and whose keys and value-gradients can be captured, while its signature stays x → y. An editor
 * switches both on at the layer; the rest of the model does not know about editing.
 * @module
 */
import type { Tensor } from "../../tensor.ts";
import { fmtShape } from "../../shape.ts";
import { add } from "../../ops/elementwise.ts";
import { linear } from "../../ops/linear.ts";
import { Linear } from "../../nn/linear.ts";
import { CaptureTap } from "./capture.ts";

/** A {@linkcode Linear} that computes with `W + shift` when given one, and can be captured. */
export class EditableLinear extends Linear {
  #shift: Tensor | null = null;
  #tap: CaptureTap | null = null;

  /** The shift set by {@linkcode EditableLinear.setShift}, or null. */
  get shift(): Tensor | null {
    return this.#shift;
  }

  /**
   * From the next forward on, computes with `W + shift` (`[in, out]`) without modifying `W`;
   * `null` removes it, which restores the layer exactly. The layer keeps a reference (it never
   * copies or disposes the shift). A shift may carry an autograd graph (gradients flow into it)
   * or be a leaf with `requiresGrad`, whose `.grad` after backward is `∂L/∂W` of this layer.
   * @param shift `[in, out]` float on the layer's backend, or null.
   */
  setShift(shift: Tensor | null): void {
    if (shift !== null) {
      shift.assertLive("shift with");
      const want = [this.inFeatures, this.outFeatures];
      if (shift.dtype !== "float32" || fmtShape(shift.shape) !== fmtShape(want)) {
        throw new RangeError(
          `Shift must be float "${fmtShape(want)}", got ${shift.dtype} "${fmtShape(shift.shape)}"`,
        );
      }
      const backend = this.weight.backend;
      if (shift.backend !== backend) {
        throw new TypeError(`Shift is on ${shift.backend.kind}, the layer on ${backend.kind}`);
      }
    }
    this.#shift = shift;
  }

  /**
   * Captures the next forward pass at flat rows `positions` of its `B·T` positions: the forward
   * keeps the inputs there (keys), the backward the output gradients (value-gradients).
   * @param positions int32 `[n]` (borrowed: keep it alive while capturing).
   * @returns The tap; take its rows after backward, then call {@linkcode EditableLinear.stopCapture}.
   */
  startCapture(positions: Tensor): CaptureTap {
    if (this.#tap !== null) throw new Error("This layer is already being captured");
    this.#tap = new CaptureTap(positions);
    return this.#tap;
  }

  /** Ends the capture and releases rows that were not taken. */
  stopCapture(): void {
    this.#tap?.dispose();
    this.#tap = null;
  }

  /**
   * `x·(W + shift) + b`, captured when a tap is on.
   * @param x `[..., in]`.
   * @returns `[..., out]`.
   */
  override forward(x: Tensor): Tensor {
    // W itself is never written: W + shift exists only for this pass, so dropping the shift
    // restores the layer exactly, and gradients reach both W and the shift.
    const out = this.#shift === null
      ? super.forward(x)
      : linear(x, add(this.weight, this.#shift), this.bias);
    return this.#tap === null ? out : this.#tap.record(x, out);
  }

  /** Disposes the parameters and any capture (not the shift, which the layer only borrows). */
  override dispose(): void {
    this.stopCapture();
    this.#shift = null;
    super.dispose();
  }
}
