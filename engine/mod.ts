/**
 * The tensor engine: tensors, tape autograd, ops (WebGPU kernels with float64 references).
 * @module
 */
export * from "./backend.ts";
export * from "./shape.ts";
export { liveTensorCount, Storage, Tensor } from "./tensor.ts";
export type { DType, GradNode, TensorArray } from "./tensor.ts";
export { keep, tidy } from "./scope.ts";
export type { Disposable } from "./scope.ts";
export { backward, detach, isGradEnabled, noGrad, record } from "./autograd.ts";
export { empty, upload } from "./alloc.ts";
export * from "./ops/creation.ts";
export * from "./ops/elementwise.ts";
export * from "./ops/reduce.ts";
export * from "./ops/view.ts";
export * from "./ops/matmul.ts";
export * from "./ops/linear.ts";
export * from "./ops/softmax.ts";
export * from "./ops/loss.ts";
export * from "./ops/layernorm.ts";
export * from "./ops/attention.ts";
export { concat, embedding, gather, stack } from "./ops/gather.ts";
export { argmax, indexEqual, selectAt } from "./ops/select.ts";
export { alias, clone, copyInto, fill, materialize, view } from "./ops/copy.ts";
export { memoryStats, peakRssBytes, resetPeakMemory } from "./memory.ts";
export type { MemoryStats } from "./memory.ts";
export * from "./nn/mod.ts";
export * from "./io/mod.ts";
export * from "./models/gpt/mod.ts";
export * from "./models/tokenizer/mod.ts";
export { Dispatcher, UNIFORM_SLOT } from "./dispatch.ts";
export type { DispatchStats, GpuBinding, KernelLaunch } from "./dispatch.ts";
export { bucketSize, BufferPool } from "./pool.ts";
export type { PoolStats } from "./pool.ts";
export { NO_ADAPTER_MESSAGE, requestGpuDevice } from "./device.ts";
export type { GpuDeviceInfo } from "./device.ts";
