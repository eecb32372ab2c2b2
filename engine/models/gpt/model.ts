/**
 * The GPT-2-architecture decoder: token and learned position embeddings, pre-LayerNorm blocks,
 * a final LayerNorm and an output layer tied to the token embedding (or, for checkpoints that
 * untie it, a separate `lm_head.weight`). Parameter names follow
 * Hugging Face GPT-2 without the `transformer.` prefix (`wte.weight`, `h.0.mlp.c_proj.weight`),
 * and every weight is stored `[in, out]`. Each block's `mlp.c_proj` is an `EditableLinear`, the
 * one place where an editor shifts a weight or captures keys and value-gradients.
 * @module
 */
import { type Backend, getBackend } from "../../backend.ts";
import { fmtShape, type Shape, sizeOf } from "../../shape.ts";
import type { Tensor } from "../../tensor.ts";
import { matmul } from "../../ops/matmul.ts";
import { crossEntropy } from "../../ops/loss.ts";
import { embeddingWithPositions, gather } from "../../ops/gather.ts";
import { reshape } from "../../ops/view.ts";
import { Embedding } from "../../nn/embedding.ts";
import { LayerNorm } from "../../nn/layer_norm.ts";
import { Module, ModuleList } from "../../nn/module.ts";
import { type GPTConfig, type GPTConfigInit, parameterShapes, validateConfig } from "./config.ts";
import { Block } from "./block.ts";

/** Options of the {@linkcode GPT} constructor. */
export interface GPTOptions {
  /** Initialisation seed (default 0): values depend only on the seed and parameter names. */
  seed?: number;
  /** Where the parameters live (default: the current backend). */
  backend?: Backend;
  /**
   * Draw GPT-2 initial values (default true). Loaders that overwrite every parameter pass false
   * to skip the second, name-keyed draw.
   */
  initialize?: boolean;
}

/** Options of {@linkcode GPT.forward}. */
export interface ForwardOptions {
  /**
   * Compute logits only at these flat rows of the `B·T` positions (int32 `[n]`, e.g. a batch's
   * answer `positions`): the output layer then costs `n·d·V` instead of `B·T·d·V`, which
   * dominates training and scoring when the vocabulary is large and only answers are scored.
   */
  at?: Tensor;
}

/** A GPT-2-style decoder-only transformer. */
export class GPT extends Module {
  /** The configuration. */
  readonly config: GPTConfig;
  /** Where the parameters live. */
  readonly backend: Backend;
  /** Token embedding `[V, d]`, also the output layer unless the config unties it. */
  readonly wte: Embedding;
  /** Position embedding `[nCtx, d]`. */
  readonly wpe: Embedding;
  /**
   * The blocks `h.0 … h.{L−1}` (for editors and tests, which import `Block` from its file).
   * @internal
   */
  readonly h: ModuleList<Block>;
  /** Final LayerNorm. */
  readonly ln_f: LayerNorm;
  /** The untied output layer `[V, d]` (HF `lm_head.weight`); null when tied to `wte`. */
  readonly lm_head: Embedding | null;

  /**
   * Builds the model with GPT-2 initialisation: N(0, 0.02²) weights and embeddings, residual
   * projections (`attn.c_proj`, `mlp.c_proj`) scaled by `1/√(2·nLayer)`, zero biases, unit
   * LayerNorm gains.
   * @param config Hyper-parameters.
   * @param options Seed, backend.
   */
  constructor(config: GPTConfigInit, options: GPTOptions = {}) {
    super();
    this.config = validateConfig(config);
    const backend = options.backend ?? getBackend();
    this.backend = backend;
    for (const [name, shape] of parameterShapes(this.config)) {
      checkBindable(backend, `Parameter "${name}"`, shape);
    }
    const p = { backend, seed: options.seed ?? 0 };
    const c = this.config;
    this.wte = this.addModule("wte", new Embedding(c.vocabSize, c.dModel, p));
    this.wpe = this.addModule("wpe", new Embedding(c.nCtx, c.dModel, p));
    this.h = this.addModule(
      "h",
      new ModuleList(Array.from({ length: c.nLayer }, () => new Block(c, p))),
    );
    this.ln_f = this.addModule("ln_f", new LayerNorm(c.dModel, { ...p, eps: c.layerNormEps }));
    // An Embedding only as the holder of a [V, d] weight with GPT-2's initialisation.
    this.lm_head = c.tieWordEmbeddings
      ? null
      : this.addModule("lm_head", new Embedding(c.vocabSize, c.dModel, p));
    if (options.initialize ?? true) this.initialize(options.seed ?? 0);
  }

  /**
   * Marks every parameter as trainable or frozen. A frozen model still back-propagates into
   * shifts and capture taps of its editable layers without touching parameter gradients.
   * @param trainable Whether parameters require gradients.
   */
  setTrainable(trainable: boolean): void {
    for (const p of this.parameters().values()) p.requiresGrad = trainable;
  }

  /**
   * The forward pass.
   * @param ids Token ids, int32 `[B, T]` with `T ≤ nCtx`.
   * @param options Rows to compute logits at.
   * @returns Logits `[B, T, V]`, or `[n, V]` at the rows of `at`.
   */
  forward(ids: Tensor, options: ForwardOptions = {}): Tensor {
    const [b, t] = this.#checkIds(ids);
    const at = options.at;
    const rows = at === undefined ? [b, t] : [at.size];
    checkBindable(this.backend, "Logits", [...rows, this.config.vocabSize]);
    // Token and position rows in one gather.
    let x = embeddingWithPositions(this.wte.weight, this.wpe.weight, ids);
    for (const block of this.h) x = block.forward(x);
    // LayerNorm is per row, so picking rows before it is exact.
    if (at !== undefined) x = gather(reshape(x, [b * t, this.config.dModel]), at, 0);
    const head = (this.lm_head ?? this.wte).weight;
    return matmul(this.ln_f.forward(x), head, { transB: true });
  }

  /**
   * Next-token logits.
   * @param ids Token ids, int32 `[B, T]`.
   * @returns `[B, T, V]`.
   */
  logits(ids: Tensor): Tensor {
    return this.forward(ids);
  }

  /**
   * Mean cross-entropy over the positions whose label is not -100.
   * @param ids Token ids, int32 `[B, T]`.
   * @param labels Labels aligned with the logits, int32 `[B, T]`.
   */
  loss(ids: Tensor, labels: Tensor): Tensor {
    return lmLoss(this.forward(ids), labels);
  }

  #checkIds(ids: Tensor): [number, number] {
    ids.assertLive("run the model on");
    if (ids.dtype !== "int32" || ids.rank !== 2) {
      throw new TypeError(
        `GPT input must be int32 token ids "[B,T]", got ${ids.dtype} "${fmtShape(ids.shape)}"`,
      );
    }
    if (ids.backend !== this.backend) {
      throw new TypeError(
        `Token ids are on ${ids.backend.kind}, the model on ${this.backend.kind}`,
      );
    }
    const [b, t] = ids.shape;
    if (t > this.config.nCtx) {
      throw new RangeError(
        `Input "${fmtShape(ids.shape)}" is longer than the context of ${this.config.nCtx} tokens`,
      );
    }
    if (b === 0 || t === 0) throw new RangeError(`Input "${fmtShape(ids.shape)}" is empty`);
    return [b, t];
  }
}

/**
 * Mean cross-entropy of `[B, T, V]` logits against aligned labels, ignoring -100.
 * @param logits `[B, T, V]`.
 * @param labels int32 `[B, T]`.
 */
export function lmLoss(logits: Tensor, labels: Tensor): Tensor {
  if (labels.dtype !== "int32" || fmtShape(labels.shape) !== fmtShape(logits.shape.slice(0, -1))) {
    throw new RangeError(
      `Labels "${fmtShape(labels.shape)}" (${labels.dtype}) do not match logits "${
        fmtShape(logits.shape)
      }"`,
    );
  }
  return crossEntropy(logits, labels, { ignoreIndex: -100 });
}

/**
 * The largest storage binding of a backend, in bytes (unbounded on the CPU).
 */
export function maxBindingBytes(backend: Backend): number {
  if (backend.kind === "cpu") return Infinity;
  return backend.dispatcher.device.limits.maxStorageBufferBindingSize;
}

/**
 * Throws when a float32 tensor of `shape` could not be bound whole by the kernels that use it
 * (the device requests the adapter's `maxStorageBufferBindingSize`).
 * @param backend Where it would live.
 * @param what Tensor name for the message.
 */
export function checkBindable(backend: Backend, what: string, shape: Shape): void {
  const bytes = sizeOf(shape) * 4;
  const limit = maxBindingBytes(backend);
  if (bytes > limit) {
    throw new RangeError(
      `${what} "${fmtShape(shape)}" needs ${bytes} bytes, more than this adapter's largest ` +
        `storage binding (${limit} bytes)`,
    );
  }
}
