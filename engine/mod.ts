/**
 * The tensor engine: tensors, tape autograd, ops (WebGPU kernels with float64 references).
 * @module
 */
export * from "./backend.ts";
export * from "./shape.ts";
export { liveTensorCount, Storage, Tensor } from "./tensor.ts";
export type { DType, GradNode, TensorArray } from "./tensor.ts";
export { keep, tidy } from "./scope.ts";
export { backward, isGradEnabled, noGrad, record } from "./autograd.ts";
export { empty, upload } from "./alloc.ts";
export * from "./ops/creation.ts";
export * from "./ops/elementwise.ts";
export * from "./ops/reduce.ts";
export * from "./ops/view.ts";
export { alias, copyInto, fill, materialize } from "./ops/copy.ts";
export { memoryStats } from "./memory.ts";
export type { MemoryStats } from "./memory.ts";
