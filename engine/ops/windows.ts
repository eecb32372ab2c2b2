/**
 * Storage-binding windows: a tensor larger than the adapter's `maxStorageBufferBindingSize`
 * (128 MiB on lavapipe; GPT-2's 50257×768 embedding is 154 MB) cannot be bound whole, so row
 * kernels bind runs of rows that each fit, one launch per run.
 * @module
 */
import type { GpuBackend } from "../backend.ts";
import type { GpuBinding } from "../launch.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";

/** Rows of a tensor bound for one launch. */
export interface RowWindow {
  /** First row. */
  r0: number;
  /** End row (exclusive). */
  r1: number;
  /** The bound byte range of the storage. */
  binding: GpuBinding;
  /** Element index, inside the binding, of row `r0`'s first element. */
  base: number;
}

let capBytes = Infinity;

/**
 * Runs `fn` with storage bindings capped at `bytes` (never above the adapter's limit), so tests
 * can exercise multi-window launches on small tensors.
 * @param bytes Largest binding in bytes.
 * @param fn Work that records launches.
 * @returns What `fn` returned.
 */
export function withBindingLimit<T>(bytes: number, fn: () => T): T {
  const prev = capBytes;
  capBytes = bytes;
  try {
    return fn();
  } finally {
    capBytes = prev;
  }
}

/**
 * The largest storage binding, in bytes, that launches on `backend` may use now.
 * @returns Bytes (a multiple of 16).
 */
export function bindingLimit(backend: GpuBackend): number {
  const device = Math.min(backend.dispatcher.device.limits.maxStorageBufferBindingSize, capBytes);
  return Math.floor(device / 16) * 16;
}

/**
 * Splits rows `[0, rows)` of `t`'s storage, where row `r` occupies elements
 * `t.offset + r·rowStride + [0, rowSpan)`, into runs that each fit one binding and hold at most
 * `maxRows` rows.
 * @param t A WebGPU tensor (its storage is bound).
 * @param rowStride Elements between row starts.
 * @param rowSpan Elements from a row's first to its last element, plus one.
 * @param maxRows Most rows per window (65,535 for kernels that put rows on the grid's y axis).
 * @returns The windows in row order (none when `rows` is 0).
 */
export function rowWindows(
  t: Tensor,
  rows: number,
  rowStride: number,
  rowSpan: number,
  maxRows = Infinity,
): RowWindow[] {
  const backend = t.backend as GpuBackend;
  const buffer = t.storage.buffer!;
  const align = backend.storageAlign;
  const limit = bindingLimit(backend);
  const windows: RowWindow[] = [];
  for (let r0 = 0; r0 < rows;) {
    const start = t.offset + r0 * rowStride;
    const offset = Math.floor((start * 4) / align) * align;
    // Bytes left for rows after the first, keeping 16 bytes for the size rounding.
    const room = limit - 16 - (start * 4 - offset) - rowSpan * 4;
    let count = rowStride === 0 ? rows - r0 : Math.floor(room / (rowStride * 4)) + 1;
    count = Math.min(count, rows - r0, maxRows);
    if (room < 0 || count < 1) {
      throw new RangeError(
        `A row of ${rowSpan} elements of tensor "${fmtShape(t.shape)}" exceeds the adapter's ` +
          `storage binding limit of ${limit} bytes`,
      );
    }
    const end = t.offset + (r0 + count - 1) * rowStride + rowSpan;
    const size = Math.min(Math.ceil((end * 4 - offset) / 16) * 16, buffer.size - offset);
    windows.push({
      r0,
      r1: r0 + count,
      binding: { buffer, offset, size },
      base: start - offset / 4,
    });
    r0 += count;
  }
  return windows;
}

/**
 * The whole storage of `t` as one binding, with a clear error when it exceeds the adapter's
 * limit (the test cap of {@linkcode withBindingLimit} does not apply).
 * @param op Op name, for the message.
 */
export function wholeBinding(t: Tensor, op: string): GpuBinding {
  const b = t.binding();
  const limit = (t.backend as GpuBackend).dispatcher.device.limits.maxStorageBufferBindingSize;
  if (b.size > limit) {
    throw new RangeError(
      `${op}() cannot bind tensor "${
        fmtShape(t.shape)
      }" (${b.size} bytes): the adapter's storage ` +
        `binding limit is ${limit} bytes`,
    );
  }
  return b;
}
