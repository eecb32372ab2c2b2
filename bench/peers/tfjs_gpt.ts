/**
 * A GPT-2-architecture training step written in tfjs-core ops, run on tfjs-webgpu, as the peer
 * of this engine's `GPT` + `AdamW` step: token embedding by `gather`, learned positions,
 * pre-LayerNorm blocks with a fused qkv projection, causal masked-softmax attention, a 4×
 * GELU (tanh) MLP, a final LayerNorm and an output layer tied to the token embedding, trained
 * on mean softmax cross-entropy with `tf.train.adam` (no weight decay: timing only).
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import process from "node:process";
import { initTfjsWebgpu, peerBundle } from "./tfjs.ts";
import { median } from "../timing.ts";

/** Model sizes of the peer (the same fields as the engine's `GPTConfig`). */
export interface TfjsGptConfig {
  /** Number of token ids. */
  readonly vocabSize: number;
  /** Rows of the position embedding. */
  readonly nCtx: number;
  /** Residual width. */
  readonly dModel: number;
  /** Transformer blocks. */
  readonly nLayer: number;
  /** Attention heads (must divide `dModel`). */
  readonly nHead: number;
  /** LayerNorm epsilon. */
  readonly layerNormEps: number;
}

/** What {@linkcode tfjsGptTrainStep} measured. */
export interface TfjsGptStepStats {
  /** Median wall time of one step, completion included, in ms. */
  ms: number;
  /** Mean CPU time of this process (all threads) per timed step, in ms. */
  cpuMs: number;
  /** Trainable parameter elements (the tied output layer counted once). */
  params: number;
  /** Loss of the first warm-up step (≈ ln V at initialisation). */
  firstLoss: number;
  /** Loss of the last timed step. */
  lastLoss: number;
}

/** Options of {@linkcode tfjsGptTrainStep}. */
export interface TfjsGptStepOptions {
  /** Untimed steps first (pipeline compilation). */
  warmup: number;
  /** Timed steps; the median is reported. */
  steps: number;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /** Initialisation seed (default 1). */
  seed?: number;
}

interface LayerVars {
  ln1g: tf.Variable;
  ln1b: tf.Variable;
  attnW: tf.Variable;
  attnB: tf.Variable;
  projW: tf.Variable;
  projB: tf.Variable;
  ln2g: tf.Variable;
  ln2b: tf.Variable;
  fcW: tf.Variable;
  fcB: tf.Variable;
  outW: tf.Variable;
  outB: tf.Variable;
}

interface GptVars {
  wte: tf.Variable;
  wpe: tf.Variable;
  layers: LayerVars[];
  lnfG: tf.Variable;
  lnfB: tf.Variable;
  all: tf.Variable[];
}

/**
 * Times full training steps (forward, backward, Adam update) of a GPT on tfjs-webgpu. Each
 * timed step awaits `loss.data()`, so the device work is complete inside the timed window.
 *
 * @param config Model sizes.
 * @param sequences `B` token sequences of `T + 1` ids each: inputs `seq[:-1]`, labels `seq[1:]`.
 * @param options Warm-up and timed step counts, learning rate, seed.
 * @returns Median ms per step, the parameter count and two losses.
 */
export async function tfjsGptTrainStep(
  config: TfjsGptConfig,
  sequences: readonly (readonly number[])[],
  options: TfjsGptStepOptions,
): Promise<TfjsGptStepStats> {
  const t = await initTfjsWebgpu();
  await registerGradients();
  const b = sequences.length;
  const len = sequences[0].length - 1;
  if (len > config.nCtx) {
    throw new RangeError(`Sequences of ${len} inputs exceed the context of ${config.nCtx}`);
  }
  const ids = new Int32Array(b * len);
  const labels = new Int32Array(b * len);
  sequences.forEach((s, i) => {
    ids.set(s.slice(0, len), i * len);
    labels.set(s.slice(1, len + 1), i * len);
  });
  const idsT = t.tensor1d(ids, "int32");
  const targets = t.tidy(() => t.oneHot(t.tensor1d(labels, "int32"), config.vocabSize));
  const mask = causalMask(t, len);
  const vars = createVars(t, config, options.seed ?? 1);
  const optimizer = t.train.adam(options.lr ?? 1e-3);
  const lossFn = (): tf.Scalar => {
    const logits = forward(t, vars, config, idsT, mask, b, len);
    return t.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar;
  };
  const step = async (): Promise<number> => {
    const loss = optimizer.minimize(lossFn, true, vars.all)!;
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
  try {
    const firstLoss = await step();
    for (let i = 1; i < options.warmup; i++) await step();
    const times: number[] = [];
    let lastLoss = firstLoss;
    const c0 = process.cpuUsage();
    for (let i = 0; i < options.steps; i++) {
      const t0 = performance.now();
      lastLoss = await step();
      times.push(performance.now() - t0);
    }
    const c = process.cpuUsage(c0);
    const params = vars.all.reduce((n, v) => n + v.size, 0);
    const cpuMs = (c.user + c.system) / 1000 / options.steps;
    return { ms: median(times), cpuMs, params, firstLoss, lastLoss };
  } finally {
    optimizer.dispose();
    for (const v of vars.all) v.dispose();
    idsT.dispose();
    targets.dispose();
    mask.dispose();
  }
}

/**
 * Registers tfjs-core's gradient functions, once. tfjs-core's CommonJS bundle (what Deno loads)
 * ships the kernels' forward functions only; the gradients are registered as a side effect of
 * the `@tensorflow/tfjs` union bundle (its ESM per-file `dist/` uses extension-less imports that
 * Deno cannot resolve). The union resolves to the same tfjs-core 4.22.0 instance, so `t` below
 * is unchanged; it is imported lazily so other benchmarks do not pay for loading it.
 */
function registerGradients(): Promise<unknown> {
  // The bundled peer registers them itself (tfjs_entry.ts).
  if (peerBundle() !== null) return Promise.resolve();
  gradients ??= import("@tensorflow/tfjs");
  return gradients;
}

let gradients: Promise<unknown> | undefined;

/** Additive causal mask `[T, T]`: 0 on and below the diagonal, −1e9 above. */
function causalMask(t: typeof tf, len: number): tf.Tensor2D {
  const m = new Float32Array(len * len);
  for (let i = 0; i < len; i++) for (let j = i + 1; j < len; j++) m[i * len + j] = -1e9;
  return t.tensor2d(m, [len, len]);
}

/** GPT-2 initialisation: N(0, 0.02²), residual projections scaled by 1/√(2L), zero biases. */
function createVars(t: typeof tf, c: TfjsGptConfig, seed: number): GptVars {
  const d = c.dModel;
  const all: tf.Variable[] = [];
  let next = seed;
  const normal = (shape: number[], std: number): tf.Variable => {
    const v = t.variable(t.randomNormal(shape, 0, std, "float32", next++));
    all.push(v);
    return v;
  };
  const constant = (shape: number[], value: number): tf.Variable => {
    const v = t.variable(t.fill(shape, value, "float32"));
    all.push(v);
    return v;
  };
  const resid = 0.02 / Math.sqrt(2 * c.nLayer);
  const wte = normal([c.vocabSize, d], 0.02);
  const wpe = normal([c.nCtx, d], 0.02);
  const layers = Array.from({ length: c.nLayer }, (): LayerVars => ({
    ln1g: constant([d], 1),
    ln1b: constant([d], 0),
    attnW: normal([d, 3 * d], 0.02),
    attnB: constant([3 * d], 0),
    projW: normal([d, d], resid),
    projB: constant([d], 0),
    ln2g: constant([d], 1),
    ln2b: constant([d], 0),
    fcW: normal([d, 4 * d], 0.02),
    fcB: constant([4 * d], 0),
    outW: normal([4 * d, d], resid),
    outB: constant([d], 0),
  }));
  const lnfG = constant([d], 1);
  const lnfB = constant([d], 0);
  return { wte, wpe, layers, lnfG, lnfB, all };
}

/** LayerNorm over the last axis of `[N, d]`. */
function layerNorm(t: typeof tf, x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor, eps: number) {
  const { mean, variance } = t.moments(x, -1, true);
  return t.add(t.mul(t.mul(t.sub(x, mean), t.rsqrt(t.add(variance, eps))), g), b) as tf.Tensor2D;
}

/** GPT-2's GELU (tanh approximation). */
function gelu(t: typeof tf, x: tf.Tensor): tf.Tensor {
  const inner = t.mul(t.add(x, t.mul(t.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return t.mul(t.mul(x, 0.5), t.add(t.tanh(inner), 1));
}

/** `x·W + b` for `x` `[N, in]`. */
function dense(t: typeof tf, x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return t.add(t.matMul(x, w as tf.Tensor2D), b) as tf.Tensor2D;
}

/** Logits `[B·T, V]` of token ids `[B·T]`. */
function forward(
  t: typeof tf,
  v: GptVars,
  c: TfjsGptConfig,
  ids: tf.Tensor1D,
  mask: tf.Tensor2D,
  b: number,
  len: number,
): tf.Tensor2D {
  const d = c.dModel;
  const h = c.nHead;
  const hd = d / h;
  const n = b * len;
  const pos = t.slice(v.wpe, [0, 0], [len, d]);
  let x = t.reshape(
    t.add(t.reshape(t.gather(v.wte, ids), [b, len, d]), pos),
    [n, d],
  ) as tf.Tensor2D;
  const heads = (y: tf.Tensor): tf.Tensor4D =>
    t.transpose(t.reshape(y, [b, len, h, hd]), [0, 2, 1, 3]) as tf.Tensor4D;
  for (const l of v.layers) {
    const qkv = dense(t, layerNorm(t, x, l.ln1g, l.ln1b, c.layerNormEps), l.attnW, l.attnB);
    const [q, k, vv] = t.split(qkv, 3, 1);
    const scores = t.add(t.mul(t.matMul(heads(q), heads(k), false, true), 1 / Math.sqrt(hd)), mask);
    const y = t.matMul(t.softmax(scores), heads(vv));
    const merged = t.reshape(t.transpose(y, [0, 2, 1, 3]), [n, d]) as tf.Tensor2D;
    x = t.add(x, dense(t, merged, l.projW, l.projB));
    const m = gelu(t, dense(t, layerNorm(t, x, l.ln2g, l.ln2b, c.layerNormEps), l.fcW, l.fcB));
    x = t.add(x, dense(t, m as tf.Tensor2D, l.outW, l.outB));
  }
  const final = layerNorm(t, x, v.lnfG, v.lnfB, c.layerNormEps);
  return t.matMul(final, v.wte, false, true);
}
