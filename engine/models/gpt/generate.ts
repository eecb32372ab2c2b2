/**
 * Text generation from a prompt: greedy decoding or seeded top-k sampling, with the context
 * cropped to the model's last `nCtx` tokens. One readback per generated token (the argmax id,
 * or the last position's logits when sampling).
 * @module
 */
import { upload } from "../../alloc.ts";
import { noGrad } from "../../autograd.ts";
import { tidy } from "../../scope.ts";
import { rng } from "../../ops/creation.ts";
import { materialize } from "../../ops/copy.ts";
import { reshape, slice } from "../../ops/view.ts";
import { argmax } from "../../ops/select.ts";
import type { GPT } from "./model.ts";

/** Options of {@linkcode generate}. */
export interface GenerateOptions {
  /** Tokens to generate at most. */
  maxNewTokens: number;
  /** Sample among the `topK` most likely tokens (omit, or 1, for greedy decoding). */
  topK?: number;
  /** Softmax temperature of sampling (default 1). */
  temperature?: number;
  /** Seed of the sampler (default 0): equal seeds give equal samples. */
  seed?: number;
  /** Generation stops after emitting one of these ids (it is included in the result). */
  stopTokens?: readonly number[];
}

/**
 * Continues a prompt.
 * @param model The model (its shifts apply).
 * @param prompt Prompt token ids (at least one).
 * @param options Length, sampling and stop tokens.
 * @returns The generated ids (without the prompt).
 * @example Greedy continuation
 * ```ts ignore
 * const ids = await generate(model, tokenizer.encode("The capital of"), { maxNewTokens: 5 });
 * ```
 */
export async function generate(
  model: GPT,
  prompt: readonly number[],
  options: GenerateOptions,
): Promise<number[]> {
  const { maxNewTokens } = options;
  const topK = options.topK ?? 1;
  const temperature = options.temperature ?? 1;
  if (prompt.length === 0) throw new RangeError("Cannot generate from an empty prompt");
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new RangeError(`maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  }
  if (!Number.isInteger(topK) || topK < 1) {
    throw new RangeError(`topK must be a positive integer, got ${topK}`);
  }
  if (!(temperature > 0)) throw new RangeError(`temperature must be positive, got ${temperature}`);
  const { nCtx, vocabSize } = model.config;
  for (const id of prompt) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new RangeError(`Prompt token ${id} is outside the vocabulary of ${vocabSize}`);
    }
  }
  const next = rng(options.seed ?? 0);
  const stop = new Set(options.stopTokens ?? []);
  const tokens = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < maxNewTokens; i++) {
    const context = tokens.slice(-nCtx);
    const t = context.length;
    const picked = noGrad(() =>
      tidy(() => {
        const ids = upload(context, [1, t], "int32", model.backend);
        const logits = model.logits(ids);
        const last = reshape(slice(logits, [0, t - 1, 0], [1, t, vocabSize]), [1, vocabSize]);
        return topK === 1 ? argmax(last, -1) : materialize(last);
      })
    );
    const values = await picked.toArray();
    picked.dispose();
    const id = topK === 1 ? values[0] : sampleTopK(values, topK, temperature, next);
    tokens.push(id);
    out.push(id);
    if (stop.has(id)) break;
  }
  return out;
}

/**
 * Samples an index among the `k` largest logits with softmax probabilities at `temperature`.
 * @param logits One row of logits.
 * @param k How many candidates.
 * @param temperature Softmax temperature.
 * @param next Uniform random numbers in [0, 1).
 */
export function sampleTopK(
  logits: ArrayLike<number>,
  k: number,
  temperature: number,
  next: () => number,
): number {
  const order = Array.from({ length: logits.length }, (_, i) => i)
    .filter((i) => !Number.isNaN(logits[i]))
    .sort((a, b) => logits[b] - logits[a] || a - b)
    .slice(0, k);
  if (order.length === 0) throw new RangeError("Cannot sample from logits that are all NaN");
  const top = logits[order[0]];
  const weights = order.map((i) => Math.exp((logits[i] - top) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let u = next() * total;
  for (let j = 0; j < order.length; j++) {
    u -= weights[j];
    if (u < 0) return order[j];
  }
  return order[order.length - 1];
}
