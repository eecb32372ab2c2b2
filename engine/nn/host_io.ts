/**
 * Host ↔ tensor transfers for parameters and optimizer state: writing host values into an
 * existing contiguous tensor (in place, no new allocation) and the host-side tensor shape.
 * @module
 */
import { fmtShape, type Shape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";

/** Values on the host with a shape (a decoded safetensors entry fits this). */
export interface HostTensor {
  /** Dimensions. */
  readonly shape: Shape;
  /** Row-major values. */
  readonly data: ArrayLike<number>;
}

/**
 * Overwrites a contiguous tensor with host values. On WebGPU the recorded work is submitted
 * first, so the write lands after every kernel recorded before this call.
 * @param t Destination (contiguous; its offset is honoured).
 * @param values Row-major values, exactly `t.size` of them.
 */
export function writeHost(t: Tensor, values: ArrayLike<number>): void {
  t.assertLive("write");
  if (!t.isContiguous) {
    throw new RangeError(`Cannot write host values into a strided view "${fmtShape(t.shape)}"`);
  }
  if (values.length !== t.size) {
    throw new RangeError(
      `Got ${values.length} values for "${fmtShape(t.shape)}" of size ${t.size}`,
    );
  }
  if (t.size === 0) return;
  const backend = t.backend;
  if (backend.kind === "cpu") {
    t.storage.array!.set(values, t.offset);
    return;
  }
  backend.dispatcher.flush();
  // A Float32Array over a plain ArrayBuffer (e.g. a decoded safetensors entry) is written as
  // is, without a copy.
  const host = t.dtype === "int32"
    ? Int32Array.from(values)
    : values instanceof Float32Array && values.buffer instanceof ArrayBuffer
    ? values as Float32Array<ArrayBuffer>
    : Float32Array.from(values);
  backend.dispatcher.device.queue.writeBuffer(t.storage.buffer!, t.offset * 4, host);
}
