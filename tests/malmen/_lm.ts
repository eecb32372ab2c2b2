// Tiny language models and data shared by the MALMEN tests.
import { CPU } from "../../engine/backend.ts";
import { type GPTConfig, gptConfig } from "../../engine/models/gpt/config.ts";
import { GPT } from "../../engine/models/gpt/model.ts";
import { buildCompactTokenizer } from "../../engine/models/tokenizer/compact.ts";
import { loadGpt2Tokenizer } from "../../engine/models/tokenizer/gpt2.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import { generateWorld, type World } from "../../malmen/data/world.ts";
import { corpusTexts, type LmCorpus, worldCorpus } from "../../malmen/lm/corpus.ts";

/**
 * A frozen random GPT of 2 blocks (d 8, context 8) on the CPU, for editing tests.
 * @param vocab Vocabulary size (token ids 0..vocab-1).
 * @param seed Initialisation seed.
 * @returns The model (parameters frozen).
 */
export function frozenLm(vocab: number, seed = 5): GPT {
  const m = new GPT(
    gptConfig({ vocabSize: vocab, nCtx: 8, dModel: 8, nLayer: 2, nHead: 2, layerNormEps: 1e-5 }),
    { seed, backend: CPU },
  );
  m.setTrainable(false);
  return m;
}

/**
 * A world of 8 people with its LM corpus and compact tokenizer, small enough to train on.
 * @returns World, corpus and tokenizer.
 */
export async function tinyWorld(): Promise<
  { world: World; corpus: LmCorpus; tokenizer: Tokenizer }
> {
  const world = generateWorld({
    seed: 2,
    people: 8,
    countries: 4,
    citiesPerCountry: 1,
    companies: 4,
  });
  const corpus = worldCorpus(world);
  const tokenizer = buildCompactTokenizer(await loadGpt2Tokenizer(), corpusTexts(corpus));
  return { world, corpus, tokenizer };
}

/**
 * The one-block GPT (d 8, two heads, context 24) the training tests train on `tinyWorld()`.
 * @param tokenizer The world's tokenizer (its vocabulary size).
 */
export function tinyLmConfig(tokenizer: Tokenizer): GPTConfig {
  return gptConfig({
    vocabSize: tokenizer.vocabSize,
    nCtx: 24,
    dModel: 8,
    nLayer: 1,
    nHead: 2,
    layerNormEps: 1e-5,
  });
}
