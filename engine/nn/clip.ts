/**
 * Global gradient-norm clipping of a module's or arena's gradients, on the device.
 * @module
 */
import type { Tensor } from "../tensor.ts";
import type { ParamArena } from "./arena.ts";
import { Module } from "./module.ts";

/**
 * Scales all gradients in place so their global L2 norm is at most `maxNorm`
 * (factor `min(1, maxNorm / (norm + 1e-6))`, as `torch.nn.utils.clip_grad_norm_`). Runs as
 * dispatches only; nothing is read back. With AdamW prefer its `maxGradNorm` option, which
 * folds the factor into the update instead of rewriting the gradients.
 * @param source A module (its arena) or an arena.
 * @param maxNorm Threshold (> 0).
 * @returns The norm before clipping, a new device scalar owned by the caller.
 */
export function clipGradNorm(source: Module | ParamArena, maxNorm: number): Tensor {
  const arena = source instanceof Module ? source.arena() : source;
  return arena.clipGradNorm(maxNorm);
}
