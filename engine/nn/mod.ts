/**
 * Neural-network building blocks: modules, layers, the parameter arena, AdamW, clipping and
 * checkpoints.
 * @module
 */
export { Module, ModuleList } from "./module.ts";
export type { LoadOptions, LoadReport, ParamOptions, StateValue } from "./module.ts";
export { Linear } from "./linear.ts";
export type { LinearOptions } from "./linear.ts";
export { Embedding } from "./embedding.ts";
export type { EmbeddingOptions } from "./embedding.ts";
export { LayerNorm } from "./layer_norm.ts";
export type { LayerNormOptions } from "./layer_norm.ts";
export { constantInit, GPT2_STD, initValues, nameSeed, normalInit } from "./init.ts";
export type { ParamInit } from "./init.ts";
export { ParamArena } from "./arena.ts";
export type { AdoptOptions, ArenaOptions, ArenaSegment } from "./arena.ts";
export { ARENA_ALIGN, planArena } from "./arena_layout.ts";
export type { ArenaPlan, ArenaSlot, ArenaSpec, SegmentPlan } from "./arena_layout.ts";
export { AdamW } from "./adamw.ts";
export type { AdamWOptions, AdamWState } from "./adamw.ts";
export { clipGradNorm } from "./clip.ts";
export { loadModule, loadOptimizer, saveModule, saveOptimizer } from "./checkpoint.ts";
export { writeHost } from "./host_io.ts";
export type { HostTensor } from "./host_io.ts";
