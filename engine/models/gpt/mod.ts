/**
 * The GPT-2-architecture decoder: configuration from presets, the model, generation, and Hugging
 * Face GPT-2 loading and checkpoints. The editors' machinery (the blocks and their editable
 * `mlp.c_proj` layers, capture taps, token batches, answer accuracy) is imported from its files.
 * @module
 */
export { gptConfig } from "./config.ts";
export type { GPTConfig, GPTConfigInit, GPTPreset } from "./config.ts";
export { GPT } from "./model.ts";
export type { ForwardOptions, GPTOptions } from "./model.ts";
export { generate } from "./generate.ts";
export type { GenerateOptions } from "./generate.ts";
export { loadGpt2Dir } from "./hf_gpt2.ts";
export type { HfLoadOptions, LoadedGpt2 } from "./hf_gpt2.ts";
export { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
export type { LoadedCheckpoint } from "./checkpoint.ts";
