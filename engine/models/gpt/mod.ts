/**
 * The GPT-2-architecture decoder: configuration and presets, the model (its `mlp.c_proj` layers
 * editable: a weight shift and a capture tap), token batches, accuracy, generation, and Hugging
 * Face GPT-2 loading and checkpoints.
 * @module
 */
export {
  configFromHf,
  configToHf,
  GPT_PRESETS,
  gptConfig,
  parameterCount,
  parameterShapes,
  SUPPORTED_ACTIVATIONS,
  validateConfig,
} from "./config.ts";
export type { GPTConfig, GPTConfigInit, GPTPreset } from "./config.ts";
export { GPT, lmLoss } from "./model.ts";
export type { ForwardOptions, GPTOptions } from "./model.ts";
export { Block, CausalSelfAttention, MLP } from "./block.ts";
export { EditableLinear } from "./editable.ts";
export { CaptureTap } from "./capture.ts";
export type { CapturedRows } from "./capture.ts";
export { disposeBatch, editBatch, IGNORE_INDEX, lmBatch } from "./batch.ts";
export type { BatchOptions, PromptAnswer, TokenBatch } from "./batch.ts";
export { answerAccuracy, readAnswerAccuracy } from "./accuracy.ts";
export { generate, sampleTopK } from "./generate.ts";
export type { GenerateOptions } from "./generate.ts";
export { loadGpt2Dir, loadHfGpt2 } from "./hf_gpt2.ts";
export type { HfLoadOptions, LoadedGpt2 } from "./hf_gpt2.ts";
export { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
export type { CheckpointExtra, LoadedCheckpoint } from "./checkpoint.ts";
