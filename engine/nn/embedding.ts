/**
 * `Embedding`: a lookup table `[num, dim]` indexed by int32 ids.
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { embedding } from "../ops/gather.ts";
import { GPT2_STD, normalInit } from "./init.ts";
import { Module, type ParamOptions } from "./module.ts";

/** Options of {@linkcode Embedding}. */
export interface EmbeddingOptions extends ParamOptions {
  /** Standard deviation of the N(0, std²) init (default 0.02, GPT-2). */
  std?: number;
}

/** Token or position embeddings: ids `[...]` → vectors `[..., dim]`. */
export class Embedding extends Module {
  /** Table rows. */
  readonly numEmbeddings: number;
  /** Vector width. */
  readonly dim: number;

  /**
   * Creates the table with seeded initialisation.
   * @param numEmbeddings Rows (vocabulary or context size).
   * @param dim Vector width.
   */
  constructor(numEmbeddings: number, dim: number, options: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = numEmbeddings;
    this.dim = dim;
    this.addParameter("weight", [numEmbeddings, dim], normalInit(options.std ?? GPT2_STD), options);
  }

  /** The table `[num, dim]`. */
  get weight(): Tensor {
    return this.param("weight");
  }

  /**
   * Looks up rows.
   * @param ids int32 ids of any shape.
   * @returns `[...ids.shape, dim]`.
   */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}
