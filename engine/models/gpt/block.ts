/**
 * One pre-LayerNorm GPT-2 block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`. The MLP's second
 * projection (`mlp.c_proj`, the layer knowledge editors change) is an {@linkcode EditableLinear}.
 * @module
 */
import type { Tensor } from "../../tensor.ts";
import { add } from "../../ops/elementwise.ts";
import { linearGelu } from "../../ops/linear.ts";
import { addLayerNorm } from "../../ops/layernorm.ts";
import { qkvCausalAttention } from "../../ops/attention_qkv.ts";
import { LayerNorm } from "../../nn/layer_norm.ts";
import { Linear } from "../../nn/linear.ts";
import { Module, type ParamOptions } from "../../nn/module.ts";
import { GPT2_STD } from "../../nn/init.ts";
import type { GPTConfig } from "./config.ts";
import { EditableLinear } from "./editable.ts";

/**
 * Standard deviation of the residual output projections (`attn.c_proj`, `mlp.c_proj`): GPT-2
 * scales them by `1/√(2·nLayer)` so the residual stream's variance does not grow with depth.
 * @param nLayer Number of blocks.
 */
export function residualStd(nLayer: number): number {
  return GPT2_STD / Math.sqrt(2 * nLayer);
}

/** Causal multi-head self-attention with a fused query/key/value projection. */
export class CausalSelfAttention extends Module {
  /** Heads. */
  readonly nHead: number;
  /** Fused projection `[d, 3d]`. */
  readonly c_attn: Linear;
  /** Output projection `[d, d]`. */
  readonly c_proj: Linear;

  /**
   * Creates the layer.
   * @param options Backend and seed.
   */
  constructor(config: GPTConfig, options: ParamOptions = {}) {
    super();
    const d = config.dModel;
    this.nHead = config.nHead;
    this.c_attn = this.addModule("c_attn", new Linear(d, 3 * d, options));
    this.c_proj = this.addModule(
      "c_proj",
      new Linear(d, d, { ...options, std: residualStd(config.nLayer) }),
    );
  }

  /**
   * Applies attention.
   * @param x `[B, T, d]`.
   * @returns `[B, T, d]`.
   */
  forward(x: Tensor): Tensor {
    // Heads are read from and merged into the projections' layouts inside the attention kernels.
    return this.c_proj.forward(qkvCausalAttention(this.c_attn.forward(x), this.nHead));
  }
}

/** The feed-forward network: `c_proj(gelu(c_fc(x)))`. */
export class MLP extends Module {
  /** First projection `[d, dInner]`. */
  readonly c_fc: Linear;
  /** Second projection `[dInner, d]`: the layer editors shift and capture. */
  readonly c_proj: EditableLinear;

  /**
   * Creates the layer.
   * @param options Backend and seed.
   */
  constructor(config: GPTConfig, options: ParamOptions = {}) {
    super();
    const d = config.dModel;
    this.c_fc = this.addModule("c_fc", new Linear(d, config.dInner, options));
    this.c_proj = this.addModule(
      "c_proj",
      new EditableLinear(config.dInner, d, { ...options, std: residualStd(config.nLayer) }),
    );
  }

  /**
   * Applies the MLP.
   * @param x `[B, T, d]`.
   * @returns `[B, T, d]`.
   */
  forward(x: Tensor): Tensor {
    // Bias and GELU run in the first projection's matmul epilogue; `c_proj` stays the editable
    // layer, so shifts and captures see exactly its input and output.
    return this.c_proj.forward(linearGelu(x, this.c_fc.weight, this.c_fc.bias!));
  }
}

/** A transformer block. */
export class Block extends Module {
  /** LayerNorm before attention. */
  readonly ln_1: LayerNorm;
  /** Self-attention. */
  readonly attn: CausalSelfAttention;
  /** LayerNorm before the MLP. */
  readonly ln_2: LayerNorm;
  /** Feed-forward network. */
  readonly mlp: MLP;

  /**
   * Creates the block.
   * @param options Backend and seed.
   */
  constructor(config: GPTConfig, options: ParamOptions = {}) {
    super();
    const ln = { ...options, eps: config.layerNormEps };
    this.ln_1 = this.addModule("ln_1", new LayerNorm(config.dModel, ln));
    this.attn = this.addModule("attn", new CausalSelfAttention(config, options));
    this.ln_2 = this.addModule("ln_2", new LayerNorm(config.dModel, ln));
    this.mlp = this.addModule("mlp", new MLP(config, options));
  }

  /**
   * Applies the block.
   * @param x Residual stream `[B, T, d]`.
   * @returns The new residual stream `[B, T, d]`.
   */
  forward(x: Tensor): Tensor {
    // The first residual add and ln_2 run as one kernel.
    const ln = this.ln_2;
    const r = addLayerNorm(x, this.attn.forward(this.ln_1.forward(x)), ln.weight, ln.bias, ln.eps);
    return add(r.sum, this.mlp.forward(r.normed));
  }
}
