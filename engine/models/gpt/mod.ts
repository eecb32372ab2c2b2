/**
 * The GPT-2-architecture decoder: configuration and presets, the model with MALMEN's weight
 * shifts and capture points, token batches, accuracy, generation, and Hugging Face GPT-2
 * loading and checkpoints.
 * @module
 */
export {
  configFromHf,
  configToHf,
  GPT_PRESETS,
  gptConfig,
  parameterCount,
  parameterShapes,
  validateConfig,
} from "./config.ts";
export type { GPTConfig, GPTConfigInit, GPTPreset } from "./config.ts";
export { checkBindable, GPT, lmLoss, maxBindingBytes } from "./model.ts";
export type { ForwardOptions, GPTOptions, GPTOutput } from "./model.ts";
export { Block, CausalSelfAttention, MLP, residualStd } from "./block.ts";
export type { ProjectionHooks } from "./block.ts";
export { captureKeys, GradSink, tap } from "./capture.ts";
export type { CaptureRequest, LayerCapture } from "./capture.ts";
export { headsView, mergeHeads, qkvAttention } from "./heads.ts";
export type { QkvPart } from "./heads.ts";
export { disposeBatch, editBatch, IGNORE_INDEX, lmBatch } from "./batch.ts";
export type { BatchOptions, PromptAnswer, TokenBatch } from "./batch.ts";
export { answerAccuracy, readAnswerAccuracy } from "./accuracy.ts";
export { generate, sampleTopK } from "./generate.ts";
export type { GenerateOptions } from "./generate.ts";
export { loadGpt2Dir, loadHfGpt2, matchNames } from "./hf_gpt2.ts";
export type { HfLoadOptions, LoadedGpt2 } from "./hf_gpt2.ts";
export { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
export type { CheckpointExtra, LoadedCheckpoint } from "./checkpoint.ts";
