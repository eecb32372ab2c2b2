/**
 * Allocation of fresh (uninitialised) tensors and uploads of host values, per backend.
 * @module
 */
import { type Backend, getBackend } from "./backend.ts";
import { checkShape, type Shape, sizeOf } from "./shape.ts";
import { type DType, Storage, Tensor } from "./tensor.ts";

/**
 * A new contiguous tensor with uninitialised contents (zeros on the CPU backend).
 * @param backend Where (default: the current backend).
 */
export function empty(
  shape: Shape,
  dtype: DType = "float32",
  backend: Backend = getBackend(),
): Tensor {
  checkShape(shape);
  const n = sizeOf(shape);
  if (backend.kind === "cpu") {
    const array = dtype === "int32" ? new Int32Array(n) : new Float64Array(n);
    return new Tensor(new Storage(backend, dtype, n, null, array), shape);
  }
  const buffer = backend.dispatcher.pool.acquire(Math.max(4, n * 4));
  return new Tensor(new Storage(backend, dtype, n, buffer, null), shape);
}

/**
 * A new contiguous tensor holding `values` (row-major).
 * @param values Host values; length must equal the shape's size.
 * @param dtype Element type (int32 values are truncated toward zero).
 * @param backend Where (default: the current backend).
 */
export function upload(
  values: ArrayLike<number>,
  shape: Shape,
  dtype: DType = "float32",
  backend: Backend = getBackend(),
): Tensor {
  checkShape(shape);
  const n = sizeOf(shape);
  if (values.length !== n) {
    throw new RangeError(
      `Got ${values.length} values for shape "[${shape.join(",")}]" of size ${n}`,
    );
  }
  const t = empty(shape, dtype, backend);
  if (backend.kind === "cpu") {
    (t.storage.array as Float64Array | Int32Array).set(values);
  } else if (n > 0) {
    const host = dtype === "int32" ? Int32Array.from(values) : Float32Array.from(values);
    backend.dispatcher.device.queue.writeBuffer(t.storage.buffer!, 0, host);
  }
  return t;
}
