/**
 * Neural-network building blocks: modules and layers, AdamW, gradient clipping, and module and
 * optimiser checkpoints.
 * @module
 */
export { Module, ModuleList } from "./module.ts";
export type { LoadOptions, LoadReport, ParamOptions } from "./module.ts";
export { Linear } from "./linear.ts";
export type { LinearOptions } from "./linear.ts";
export { Embedding } from "./embedding.ts";
export type { EmbeddingOptions } from "./embedding.ts";
export { LayerNorm } from "./layer_norm.ts";
export type { LayerNormOptions } from "./layer_norm.ts";
export { constantInit, normalInit } from "./init.ts";
export type { ParamInit } from "./init.ts";
export { AdamW } from "./adamw.ts";
export type { AdamWOptions, AdamWState } from "./adamw.ts";
export { ParamArena } from "./arena.ts";
export type { ArenaOptions } from "./arena.ts";
export type { HostTensor } from "./host_io.ts";
export { clipGradNorm } from "./clip.ts";
export { loadModule, loadOptimizer, saveModule, saveOptimizer } from "./checkpoint.ts";
export type { CheckpointLoadOptions } from "./checkpoint.ts";
export { NonFiniteError } from "./finite.ts";
