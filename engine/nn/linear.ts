/**
 * `Linear`: `y = x·W + b` with `W` stored `[in, out]` (HF GPT-2 `Conv1D` layout).
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { linear } from "../ops/linear.ts";
import { constantInit, GPT2_STD, normalInit } from "./init.ts";
import { Module, type ParamOptions } from "./module.ts";

/** Options of {@linkcode Linear}. */
export interface LinearOptions extends ParamOptions {
  /** Add a bias vector (default true; initialised to zeros). */
  bias?: boolean;
  /** Standard deviation of the N(0, std²) weight init (default 0.02, GPT-2). */
  std?: number;
}

/** A fully connected layer over the last axis: `[..., in]` → `[..., out]`. */
export class Linear extends Module {
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;

  /** Creates the layer with seeded GPT-2 style initialisation. */
  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.addParameter(
      "weight",
      [inFeatures, outFeatures],
      normalInit(options.std ?? GPT2_STD),
      options,
    );
    if (options.bias ?? true) this.addParameter("bias", [outFeatures], constantInit(0), options);
  }

  /** The weight `[in, out]`. */
  get weight(): Tensor {
    return this.param("weight");
  }

  /** The bias `[out]`, or null without one. */
  get bias(): Tensor | null {
    return this.hasParam("bias") ? this.param("bias") : null;
  }

  /**
   * Applies the layer.
   * @param x `[..., in]`.
   * @returns `[..., out]`.
   */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
