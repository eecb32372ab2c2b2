/**
 * The tensor engine: tensors on WebGPU or the float64 CPU reference, tape autograd, ops, `nn`
 * modules and AdamW, safetensors I/O, the GPT and the tokenizers.
 *
 * This is the surface a user of the engine needs. Op writers, the editors, benchmarks and tests
 * import the machinery (the dispatcher, buffer pool, kernel configurations, raw kernels, the host
 * platform in `engine/platform/`, the GPT's blocks and batches) from its source files.
 * @module
 */

// Tensors, backends, memory scopes.
export { Tensor } from "./tensor.ts";
export type { DType, TensorArray } from "./tensor.ts";
export type { Shape } from "./shape.ts";
export { getBackend, initWebGpu, setBackend, sync, tryWebGpu } from "./backend.ts";
export type { Backend, CpuBackend, GpuBackend } from "./backend.ts";
export { GpuDeviceError } from "./device_error.ts";
export { keep, tidy } from "./scope.ts";
export type { Disposable } from "./scope.ts";

// Autograd.
export { backward, detach, noGrad } from "./autograd.ts";
export type { BackwardOptions } from "./autograd.ts";

// Creation and math.
export { full, ones, rand, randn, tensor, toBackend, zeros } from "./ops/creation.ts";
export type { CreateOptions, NestedArray, RandomOptions } from "./ops/creation.ts";
export {
  add,
  div,
  exp,
  gelu,
  greater,
  log,
  maximum,
  mul,
  neg,
  pow,
  relu,
  sqrt,
  sub,
  tanh,
  where,
} from "./ops/elementwise.ts";
export { max, mean, sum } from "./ops/reduce.ts";
export type { ReduceOptions } from "./ops/reduce.ts";
export { matmul } from "./ops/matmul.ts";
export type { MatmulOptions } from "./ops/matmul.ts";
export { linear } from "./ops/linear.ts";
export { logSoftmax, softmax } from "./ops/softmax.ts";
export { crossEntropy } from "./ops/loss.ts";
export type { CrossEntropyOptions } from "./ops/loss.ts";
export { layerNorm } from "./ops/layernorm.ts";
export { causalAttention } from "./ops/attention.ts";
export type { AttentionOptions } from "./ops/attention.ts";
export { concat, embedding, gather, stack } from "./ops/gather.ts";
export { argmax } from "./ops/select.ts";
export {
  contiguous,
  expand,
  permute,
  reshape,
  slice,
  squeeze,
  transpose,
  unsqueeze,
} from "./ops/view.ts";
export { clone } from "./ops/copy.ts";

// Modules, optimiser, checkpoints; files; models.
export * from "./nn/mod.ts";
export * from "./io/mod.ts";
export * from "./models/gpt/mod.ts";
export * from "./models/tokenizer/mod.ts";
