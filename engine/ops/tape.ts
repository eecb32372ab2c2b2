/**
 * The op layer's side of the tape. The reverse walk in `engine/autograd.ts` belongs to the core,
 * which imports nothing above itself, yet it must add gradients and copy leaf gradients with this
 * layer's kernels: this module installs them there. Every op takes `record` from here, so any
 * tensor with a tape entry comes from a program whose walk is complete.
 * @module
 */
import { _installGradArithmetic, record } from "../autograd.ts";
import type { Tensor } from "../tensor.ts";
import { clone } from "./copy.ts";
import { addInto, elementwise } from "./elementwise_raw.ts";

_installGradArithmetic({ add: (a, b) => elementwise("add", [a, b]), addInto, clone });

export { record };
export { ADDED } from "../tensor.ts";
export type { GradResult } from "../tensor.ts";

/**
 * A gradient sink offered by autograd, when a kernel can write it in place: contiguous float
 * storage at an offset the adapter can bind (always on the CPU).
 * @param sink What the backward rule received for one input.
 * @returns The sink, or null when the rule should return a new tensor instead.
 */
export function usableSink(sink: Tensor | null | undefined): Tensor | null {
  if (sink === null || sink === undefined || !sink.isContiguous || sink.dtype !== "float32") {
    return null;
  }
  const b = sink.backend;
  return b.kind === "cpu" || (sink.offset * 4) % b.storageAlign === 0 ? sink : null;
}
