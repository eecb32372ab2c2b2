/**
 * The data and model a workflow starts from: the embedded world (or the true facts of edit
 * records: CounterFact, zsRE, a file), its LM corpus, a compact tokenizer over it, and the tiny
 * GPT sized for it; and the facts an editor is meta-trained and validated on.
 * @module
 */
import { type GPTConfig, gptConfig } from "../../engine/models/gpt/config.ts";
import { buildCompactTokenizer } from "../../engine/models/tokenizer/compact.ts";
import { loadGpt2Tokenizer } from "../../engine/models/tokenizer/gpt2.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import type { PromptAnswer } from "../../engine/models/gpt/batch.ts";
import type { DataSplits } from "../data/data_source.ts";
import type { EditRecord } from "../data/edit_record.ts";
import { generateWorld, resampleRecords, type World, type WorldOptions } from "../data/world.ts";
import { type EditRequest, toRequests } from "../eval/requests.ts";
import {
  corpusTexts,
  counterFactCorpus,
  encodeFact,
  type LmCorpus,
  worldCorpus,
} from "../lm/corpus.ts";
import { DEFAULT_WORLD, WORLD_MODEL } from "./settings.ts";

/** The embedded default: world, corpus and a compact tokenizer over it. */
export interface WorldSetup {
  /** The generated world. */
  world: World;
  /** Its LM corpus. */
  corpus: LmCorpus;
  /** Compact GPT-2 tokenizer covering the corpus. */
  tokenizer: Tokenizer;
}

/**
 * Generates a world and its tokenizer.
 * @param options World options (default: the embedded {@linkcode DEFAULT_WORLD}).
 */
export async function worldSetup(options: WorldOptions = DEFAULT_WORLD): Promise<WorldSetup> {
  const world = generateWorld(options);
  const corpus = worldCorpus(world);
  const tokenizer = buildCompactTokenizer(await loadGpt2Tokenizer(), corpusTexts(corpus));
  return { world, corpus, tokenizer };
}

/**
 * A corpus and tokenizer over the true facts of edit records (CounterFact, zsRE, a file).
 * @param records The records (all splits: the LM learns every case's true facts).
 * @returns Corpus and tokenizer.
 */
export async function counterFactSetup(
  records: readonly EditRecord[],
): Promise<{ corpus: LmCorpus; tokenizer: Tokenizer }> {
  const corpus = counterFactCorpus(records, true);
  const tokenizer = buildCompactTokenizer(await loadGpt2Tokenizer(), corpusTexts(corpus));
  return { corpus, tokenizer };
}

/**
 * The context a model needs for records: the longest prompt + answer of any tuple an edit is
 * scored on, rounded up to a multiple of 8 (72 for CounterFact, whose longest needs 68).
 * @param records Edit records.
 * @returns Context length in tokens.
 */
export function contextFor(tokenizer: Tokenizer, records: readonly EditRecord[]): number {
  let longest = 1;
  for (const q of toRequests(tokenizer, records)) {
    for (const p of [q.edit, q.equiv, q.unrel, q.editTrue, q.equivTrue, q.unrelNew]) {
      longest = Math.max(longest, p.prompt.length + p.answer.length - 1);
    }
  }
  return Math.ceil(longest / 8) * 8;
}

/**
 * The model configuration for a tokenizer (the tiny preset sized for the world).
 * @param overrides Field overrides.
 */
export function modelConfigFor(
  tokenizer: Tokenizer,
  overrides: Partial<GPTConfig> = {},
): GPTConfig {
  return gptConfig("tiny", { ...WORLD_MODEL, vocabSize: tokenizer.vocabSize, ...overrides });
}

/** What an editor is meta-trained and validated on. */
export interface EditorData {
  /** Meta-training facts. */
  train: EditRequest[];
  /** Validation facts (checkpoint selection). */
  val: EditRequest[];
  /** The LM's own training facts, for a key prior's statistics (empty when not asked for). */
  keyPriorFacts: PromptAnswer[];
  /** World only: fresh training facts per epoch, when asked for. */
  resample?: (epoch: number) => EditRequest[];
}

/** Options of {@linkcode editorData}. */
export interface EditorDataOptions {
  /** Also gather the LM's training facts for a key prior. */
  keyPrior?: boolean;
  /** World only: redraw targets, templates and locality probes of the training facts per epoch. */
  resample?: boolean;
  /** The world (default {@linkcode DEFAULT_WORLD}). */
  world?: WorldOptions;
}

/**
 * The train and val facts of the embedded world or of loaded splits, tokenised for a model.
 * @param data `world`, or splits read with `loadDataSplits` (CounterFact, zsRE, files).
 * @param nCtx The LM's context (longer facts are rejected by name).
 * @param options Key prior facts, resampling.
 */
export function editorData(
  data: "world" | DataSplits,
  tokenizer: Tokenizer,
  nCtx: number,
  options: EditorDataOptions = {},
): EditorData {
  const requests = (records: readonly EditRecord[]) => toRequests(tokenizer, records, nCtx);
  if (data === "world") {
    const world = generateWorld(options.world ?? DEFAULT_WORLD);
    return {
      train: requests(world.train),
      val: requests(world.val),
      keyPriorFacts: options.keyPrior
        ? worldCorpus(world).training.map((f) => encodeFact(tokenizer, f))
        : [],
      resample: options.resample
        ? (epoch) => requests(resampleRecords(world, "train", epoch))
        : undefined,
    };
  }
  if (options.resample) throw new TypeError("Resampling is only available on the world");
  // The key statistics need a sample of the LM's training texts (all splits' true facts, as
  // the LM learned them), not all of them.
  const all = [...data.train, ...data.val, ...data.edit];
  const facts = options.keyPrior ? evenSample(counterFactCorpus(all, true).training, 4096) : [];
  return {
    train: requests(data.train),
    val: requests(data.val),
    keyPriorFacts: facts.map((f) => encodeFact(tokenizer, f)),
  };
}

// `count` items spread evenly over `items` (all of them when there are fewer).
function evenSample<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]);
}
