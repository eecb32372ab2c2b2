/**
 * `LayerNorm` over the last axis with a learned gain and bias.
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { layerNorm } from "../ops/layernorm.ts";
import { constantInit } from "./init.ts";
import { Module, type ParamOptions } from "./module.ts";

/** Options of {@linkcode LayerNorm}. */
export interface LayerNormOptions extends ParamOptions {
  /** Added to the variance (default 1e-5, GPT-2). */
  eps?: number;
}

/** Layer normalisation: gain initialised to ones, bias to zeros. */
export class LayerNorm extends Module {
  /** Normalised width. */
  readonly dim: number;
  /** Variance epsilon. */
  readonly eps: number;

  /**
   * Creates the layer.
   * @param dim Width of the last axis.
   */
  constructor(dim: number, options: LayerNormOptions = {}) {
    super();
    this.dim = dim;
    this.eps = options.eps ?? 1e-5;
    this.addParameter("weight", [dim], constantInit(1), options);
    this.addParameter("bias", [dim], constantInit(0), options);
  }

  /** The gain `[dim]`. */
  get weight(): Tensor {
    return this.param("weight");
  }

  /** The bias `[dim]`. */
  get bias(): Tensor {
    return this.param("bias");
  }

  /**
   * Normalises.
   * @param x `[..., dim]`.
   * @returns `[..., dim]`.
   */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
