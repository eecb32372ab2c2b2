/**
 * Reading tensor values back to the host.
 * @module
 */
import { materialize } from "./ops/copy.ts";
import type { Tensor, TensorArray } from "./tensor.ts";

/**
 * Reads a tensor row-major. GPU reads issued in the same tick are batched by the dispatcher.
 * @param t The tensor.
 * @returns A fresh array: float32 (GPU), float64 (CPU) or int32.
 */
export async function readTensor(t: Tensor): Promise<TensorArray> {
  const backend = t.backend;
  if (backend.kind === "cpu") {
    const c = materialize(t);
    const out = c.storage.array!.slice(c.offset, c.offset + c.size);
    if (c !== t) c.dispose();
    return out;
  }
  const aligned = (t.offset * 4) % backend.storageAlign === 0;
  const c = t.isContiguous && aligned ? t : materialize(t);
  const bytes = await backend.dispatcher.read({
    buffer: c.storage.buffer!,
    offset: c.offset * 4,
    size: c.size * 4,
  });
  if (c !== t) c.dispose();
  return t.dtype === "int32" ? new Int32Array(bytes) : new Float32Array(bytes);
}
