/**
 * GPT-2-architecture configuration: the typed hyper-parameters, named presets, validation, and
 * the mapping to and from Hugging Face's `config.json`.
 *
 * The vocabulary is never padded. Padding to a multiple of 4 lets the logits matmul and its
 * backward use vectorised loads, but on llvmpipe it did not pay: the logits product plus the
 * cross-entropy, forward and backward, over 1024 rows of width 128 took 140–150 ms at V = 1024
 * and 97–108 ms at V = 1021. Padding a pretrained checkpoint would also need masking (a zero
 * embedding row gives logit 0, far above GPT-2's typical logits) in the loss, the accuracy and
 * sampling. The `tiny` preset simply picks a vocabulary that is a multiple of 64.
 * @module
 */

/** Hyper-parameters of a GPT-2-style decoder. */
export interface GPTConfig {
  /** Number of token ids (rows of `wte`). */
  readonly vocabSize: number;
  /** Context length (rows of `wpe`): the longest sequence the model accepts. */
  readonly nCtx: number;
  /** Residual width `d`. */
  readonly dModel: number;
  /** Number of transformer blocks. */
  readonly nLayer: number;
  /** Attention heads; must divide `dModel`. */
  readonly nHead: number;
  /**
   * Width of the feed-forward layer (HF GPT-2's `n_inner`; default `4·dModel`). It is also the
   * key width d_in of the `mlp.c_proj` layers MALMEN edits: a wider FFN lets one least-squares
   * shift meet more simultaneous edits.
   */
  readonly dInner: number;
  /** Epsilon of every LayerNorm. */
  readonly layerNormEps: number;
  /**
   * Whether the output layer is the token embedding `wte` (HF `tie_word_embeddings`, GPT-2's
   * choice and the default). When false the model has its own `lm_head.weight` `[V, d]`.
   */
  readonly tieWordEmbeddings: boolean;
}

/**
 * A configuration as written by hand or read from older files: `dInner` (default `4·dModel`)
 * and `tieWordEmbeddings` (default true) may be left out.
 */
export type GPTConfigInit = Omit<GPTConfig, "dInner" | "tieWordEmbeddings"> & {
  readonly dInner?: number;
  readonly tieWordEmbeddings?: boolean;
};

/**
 * Names of the built-in presets (for {@linkcode gptConfig}). `tiny` is sized for the synthetic
 * world (about 1k token types, facts of a few dozen tokens) so that it memorises a couple of
 * thousand facts in minutes on a software adapter; `gpt2` is GPT-2 small (124M).
 */
export type GPTPreset = "tiny" | "gpt2";

/**
 * The presets. `tiny` is sized for the synthetic world (about 1k token types, facts of a few
 * dozen tokens) so that it memorises a couple of thousand facts in minutes on a software
 * adapter; `gpt2` is GPT-2 small (124M).
 */
export const GPT_PRESETS: Readonly<Record<GPTPreset, GPTConfig>> = Object.freeze({
  tiny: Object.freeze({
    vocabSize: 1024,
    nCtx: 64,
    dModel: 128,
    nLayer: 4,
    nHead: 4,
    dInner: 512,
    layerNormEps: 1e-5,
    tieWordEmbeddings: true,
  }),
  gpt2: Object.freeze({
    vocabSize: 50257,
    nCtx: 1024,
    dModel: 768,
    nLayer: 12,
    nHead: 12,
    dInner: 3072,
    layerNormEps: 1e-5,
    tieWordEmbeddings: true,
  }),
});

/**
 * A validated configuration from a preset and/or overrides.
 * @param base A preset name or a full configuration.
 * @param overrides Fields to replace (e.g. the tokenizer's `vocabSize`).
 * @returns The frozen, validated configuration.
 * @example The tiny preset with the world tokenizer's vocabulary
 * ```ts ignore
 * const config = gptConfig("tiny", { vocabSize: tokenizer.vocabSize });
 * ```
 */
export function gptConfig(
  base: GPTPreset | GPTConfigInit,
  overrides: Partial<GPTConfig> = {},
): GPTConfig {
  const from: GPTConfigInit = typeof base === "string" ? GPT_PRESETS[base] : base;
  if (from === undefined) throw new RangeError(`Unknown GPT preset "${String(base)}"`);
  // A new width without a new FFN width keeps the 4× ratio (a preset's dInner is not sticky).
  const ratioKept = overrides.dModel !== undefined && overrides.dInner === undefined;
  const merged = { ...from, ...overrides };
  return validateConfig(ratioKept ? { ...merged, dInner: undefined } : merged);
}

/**
 * Checks every field (positive integers, heads dividing the width, a positive epsilon, a
 * boolean tie) and fills the defaults.
 */
export function validateConfig(init: GPTConfigInit): GPTConfig {
  const c = {
    ...init,
    dInner: init.dInner ?? 4 * init.dModel,
    tieWordEmbeddings: init.tieWordEmbeddings ?? true,
  };
  for (const key of ["vocabSize", "nCtx", "dModel", "nLayer", "nHead", "dInner"] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`GPT config "${key}" must be a positive integer, got ${v}`);
    }
  }
  if (c.dModel % c.nHead !== 0) {
    throw new RangeError(
      `GPT config "nHead" (${c.nHead}) must divide "dModel" (${c.dModel})`,
    );
  }
  if (!(c.layerNormEps > 0) || !Number.isFinite(c.layerNormEps)) {
    throw new RangeError(
      `GPT config "layerNormEps" must be a positive number, got ${c.layerNormEps}`,
    );
  }
  if (typeof c.tieWordEmbeddings !== "boolean") {
    throw new RangeError(
      `GPT config "tieWordEmbeddings" must be true or false, got ${c.tieWordEmbeddings}`,
    );
  }
  return Object.freeze({
    vocabSize: c.vocabSize,
    nCtx: c.nCtx,
    dModel: c.dModel,
    nLayer: c.nLayer,
    nHead: c.nHead,
    dInner: c.dInner,
    layerNormEps: c.layerNormEps,
    tieWordEmbeddings: c.tieWordEmbeddings,
  });
}

/**
 * Every parameter's name and shape, in registration order (HF GPT-2 names without the
 * `transformer.` prefix). A tied output layer is `wte.weight` and has no entry of its own; an
 * untied one is `lm_head.weight` `[V, d]`, last.
 * @returns Name → shape.
 */
export function parameterShapes(c: GPTConfig): Map<string, number[]> {
  const d = c.dModel;
  const out = new Map<string, number[]>([["wte.weight", [c.vocabSize, d]], [
    "wpe.weight",
    [c.nCtx, d],
  ]]);
  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    out.set(`${p}ln_1.weight`, [d]);
    out.set(`${p}ln_1.bias`, [d]);
    out.set(`${p}attn.c_attn.weight`, [d, 3 * d]);
    out.set(`${p}attn.c_attn.bias`, [3 * d]);
    out.set(`${p}attn.c_proj.weight`, [d, d]);
    out.set(`${p}attn.c_proj.bias`, [d]);
    out.set(`${p}ln_2.weight`, [d]);
    out.set(`${p}ln_2.bias`, [d]);
    out.set(`${p}mlp.c_fc.weight`, [d, c.dInner]);
    out.set(`${p}mlp.c_fc.bias`, [c.dInner]);
    out.set(`${p}mlp.c_proj.weight`, [c.dInner, d]);
    out.set(`${p}mlp.c_proj.bias`, [d]);
  }
  out.set("ln_f.weight", [d]);
  out.set("ln_f.bias", [d]);
  if (!c.tieWordEmbeddings) out.set("lm_head.weight", [c.vocabSize, d]);
  return out;
}

/**
 * Number of parameters (the tied output layer counted once).
 */
export function parameterCount(c: GPTConfig): number {
  let n = 0;
  for (const s of parameterShapes(c).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * The GELU forms HF names that are the function this engine computes, the tanh approximation
 * `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (`gelu_fast` writes the same function with the
 * constant folded).
 */
export const SUPPORTED_ACTIVATIONS: readonly string[] = [
  "gelu_new",
  "gelu_pytorch_tanh",
  "gelu_fast",
];

// Fields of HF's GPT2Config that change what the model computes, with the only value this
// engine computes (absent fields take transformers' defaults, which are these).
const FIXED_FIELDS: ReadonlyArray<readonly [string, unknown]> = [
  ["scale_attn_weights", true],
  ["scale_attn_by_inverse_layer_idx", false],
  ["add_cross_attention", false],
];

/**
 * Reads a Hugging Face GPT-2 `config.json` object (`n_embd`, `n_layer`, `n_head`,
 * `n_positions`, `vocab_size`, `n_inner`, `layer_norm_epsilon`, `tie_word_embeddings`), and
 * refuses by name what this engine does not compute: another `model_type`, an
 * `activation_function` outside {@linkcode SUPPORTED_ACTIVATIONS}, unscaled or layer-scaled
 * attention, cross-attention.
 * @param json The parsed file.
 * @param source File name for messages.
 */
export function configFromHf(json: unknown, source = "config.json"): GPTConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new TypeError(`${source}: expected a JSON object`);
  }
  const o = json as Record<string, unknown>;
  const unsupported = (field: string, why: string): RangeError =>
    new RangeError(`${source}: ${field} ${JSON.stringify(o[field])} is not supported (${why})`);
  if (o.model_type !== undefined && o.model_type !== "gpt2") {
    throw unsupported("model_type", "only GPT-2 checkpoints load");
  }
  const activation = o.activation_function ?? "gelu_new";
  if (!SUPPORTED_ACTIVATIONS.includes(activation as string)) {
    throw unsupported(
      "activation_function",
      `this engine computes the tanh GELU: ${SUPPORTED_ACTIVATIONS.join(", ")}`,
    );
  }
  for (const [field, value] of FIXED_FIELDS) {
    if (o[field] !== undefined && o[field] !== value) {
      throw unsupported(field, `this engine computes ${field} = ${value}`);
    }
  }
  const tie = o.tie_word_embeddings ?? true;
  if (typeof tie !== "boolean") {
    throw new TypeError(
      `${source}: field "tie_word_embeddings" must be true or false, got ${JSON.stringify(tie)}`,
    );
  }
  const num = (key: string, fallback?: string): number => {
    const v = o[key] ?? (fallback === undefined ? undefined : o[fallback]);
    if (typeof v !== "number") {
      throw new TypeError(`${source}: field "${key}" must be a number, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const eps = o.layer_norm_epsilon === undefined ? 1e-5 : num("layer_norm_epsilon");
  // n_inner null (or absent) means 4·n_embd, as in transformers.
  const inner = o.n_inner === undefined || o.n_inner === null ? undefined : num("n_inner");
  return validateConfig({
    dInner: inner,
    vocabSize: num("vocab_size"),
    nCtx: num("n_positions", "n_ctx"),
    dModel: num("n_embd"),
    nLayer: num("n_layer"),
    nHead: num("n_head"),
    layerNormEps: eps,
    tieWordEmbeddings: tie,
  });
}

/**
 * The Hugging Face `config.json` fields of a configuration (loadable by `transformers`).
 * @returns A JSON-ready object.
 */
export function configToHf(c: GPTConfig): Record<string, unknown> {
  return {
    model_type: "gpt2",
    architectures: ["GPT2LMHeadModel"],
    vocab_size: c.vocabSize,
    n_positions: c.nCtx,
    n_ctx: c.nCtx,
    n_embd: c.dModel,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: c.dInner === 4 * c.dModel ? null : c.dInner,
    layer_norm_epsilon: c.layerNormEps,
    activation_function: "gelu_new",
    tie_word_embeddings: c.tieWordEmbeddings,
  };
}
