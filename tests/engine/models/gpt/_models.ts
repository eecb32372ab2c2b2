// Small configurations and models shared by the GPT tests.
import { type Backend, CPU } from "../../../../engine/backend.ts";
import type { Shape } from "../../../../engine/shape.ts";
import type { Tensor } from "../../../../engine/tensor.ts";
import { type GPTConfig, gptConfig } from "../../../../engine/models/gpt/config.ts";
import { GPT } from "../../../../engine/models/gpt/model.ts";
import { tensor } from "../../../../engine/ops/creation.ts";
import { seeded, seededInts } from "./_fixtures.ts";

/** Batch size and length of the token batches below. */
export const B = 3;
/** Sequence length of the token batches below. */
export const T = 9;

/**
 * Seeded token ids `[b, t]`.
 * @returns int32 ids.
 */
export function ids(backend: Backend, seed = 11, b = B, t = T, v = SMALL.vocabSize): Tensor {
  return tensor(seededInts(b * t, v, seed), [b, t], { backend, dtype: "int32" });
}

/**
 * Seeded labels `[b, t]` with every fourth position ignored (-100).
 * @returns int32 labels.
 */
export function labels(backend: Backend, seed = 12, b = B, t = T, v = SMALL.vocabSize): Tensor {
  const l = seededInts(b * t, v, seed).map((x, i) => (i % 4 === 1 ? -100 : x));
  return tensor(l, [b, t], { backend, dtype: "int32" });
}

/** Odd sizes everywhere: V 37, context 11, d 15 in 3 heads of 5, 2 layers. */
export const SMALL: GPTConfig = gptConfig({
  vocabSize: 37,
  nCtx: 11,
  dModel: 15,
  nLayer: 2,
  nHead: 3,
  layerNormEps: 1e-5,
});

/** Tiny enough for finite differences in float64: V 11, context 6, d 6 in 2 heads, 2 layers. */
export const MICRO: GPTConfig = gptConfig({
  vocabSize: 11,
  nCtx: 6,
  dModel: 6,
  nLayer: 2,
  nHead: 2,
  layerNormEps: 1e-5,
});

/**
 * A model whose biases and LayerNorm parameters are perturbed too (GPT-2 init zeroes biases and
 * sets gains to one, which would hide mistakes in their use).
 * @param config Configuration.
 * @param backend Backend.
 * @param seed Seed.
 * @returns The model.
 */
export function randomModel(config: GPTConfig, backend: Backend = CPU, seed = 1): GPT {
  const model = new GPT(config, { backend, seed });
  let k = 100;
  const state = new Map<string, { shape: Shape; data: Float64Array }>();
  for (const [name, t] of model.parameters()) {
    if (t.rank !== 1) continue;
    const base = name.endsWith("ln_1.weight") || name.endsWith("ln_2.weight") ||
        name === "ln_f.weight"
      ? 1
      : 0;
    state.set(name, { shape: t.shape, data: seeded(t.shape, k++, base - 0.3, base + 0.3) });
  }
  model.loadStateDict(state, { strict: false });
  return model;
}

/**
 * Disposes the gradients of every parameter.
 * @param params The parameters.
 */
export function dropGrads(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}
