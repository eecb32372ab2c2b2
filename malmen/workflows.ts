/**
 * The end-to-end steps the CLIs share: build the embedded world and its tokenizer, train the LM,
 * meta-train an editor, and edit + score a set of facts with memory and time measured.
 * @module
 */
import { sync } from "../engine/backend.ts";
import { memoryStats, peakRssBytes, resetPeakMemory } from "../engine/memory.ts";
import { type GPTConfig, gptConfig } from "../engine/models/gpt/config.ts";
import type { GPT } from "../engine/models/gpt/model.ts";
import { buildCompactTokenizer } from "../engine/models/tokenizer/compact.ts";
import { loadGpt2Tokenizer } from "../engine/models/tokenizer/gpt2.ts";
import type { Tokenizer } from "../engine/models/tokenizer/tokenizer.ts";
import { generateWorld, type World, type WorldOptions } from "./data/world.ts";
import type { EditRecord } from "./data/edit_record.ts";
import { corpusTexts, counterFactCorpus, type LmCorpus, worldCorpus } from "./lm/corpus.ts";
import type { Editor } from "./editors/editor.ts";
import { applyShifts, revertShifts } from "./editors/journal.ts";
import { type RequestScores, scoreRequests, type ScoreSummary, summarize } from "./eval/metrics.ts";
import type { EditRequest } from "./eval/requests.ts";
import type { Tensor } from "../engine/tensor.ts";

/** The tiny model used for the embedded world (small enough for 2 CPU cores). */
export const WORLD_MODEL: Partial<GPTConfig> = {
  nCtx: 32,
  dModel: 128,
  nLayer: 4,
  nHead: 4,
};

/**
 * The embedded default world of the CLIs and benchmarks: 1,194 facts (3,582 training texts),
 * small enough for the tiny GPT to memorise in minutes on two CPU cores, with 551 held-out
 * edit facts (so m = 512 simultaneous edits come from subjects never seen in meta-training),
 * 478 meta-training facts and 97 validation facts.
 */
export const DEMO_WORLD: WorldOptions = {
  seed: 1,
  people: 160,
  countries: 10,
  citiesPerCountry: 3,
  companies: 24,
  split: { train: 0.4, val: 0.08, edit: 0.46, locality: 0.06 },
};

/** Time budgets and meta-training settings of the demo (and of the benchmarks' runs). */
export const DEMO_BUDGET: {
  readonly lmMinutes: number;
  readonly metaMinutes: number;
  readonly nEdits: number;
  readonly metaLr: number;
  readonly valEvery: number;
} = { lmMinutes: 8, metaMinutes: 2, nEdits: 128, metaLr: 1e-3, valEvery: 5 };

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
 * Generates the embedded world and its tokenizer.
 * @param options World options (seed, sizes).
 * @returns The setup.
 */
export async function worldSetup(options: WorldOptions = DEMO_WORLD): Promise<WorldSetup> {
  const world = generateWorld(options);
  const corpus = worldCorpus(world);
  const tokenizer = buildCompactTokenizer(await loadGpt2Tokenizer(), corpusTexts(corpus));
  return { world, corpus, tokenizer };
}

/**
 * A corpus and tokenizer over CounterFact's true facts.
 * @param records Flattened CounterFact records (all splits).
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
 * The model configuration for a tokenizer (the tiny preset sized for the world).
 * @param tokenizer The tokenizer.
 * @param overrides Field overrides.
 * @returns The configuration.
 */
export function modelConfigFor(
  tokenizer: Tokenizer,
  overrides: Partial<GPTConfig> = {},
): GPTConfig {
  return gptConfig("tiny", { ...WORLD_MODEL, vocabSize: tokenizer.vocabSize, ...overrides });
}

/** Result of editing and scoring one batch of facts. */
export interface EditOutcome {
  /** Editor name. */
  editor: string;
  /** Facts edited. */
  m: number;
  /** Scores before the edit. */
  before: ScoreSummary;
  /** Scores after the edit. */
  after: ScoreSummary;
  /** Per-request scores after the edit. */
  perRequest: RequestScores;
  /** Per-request scores before the edit. */
  perRequestBefore: RequestScores;
  /** Seconds to compute the shifts (the edit itself, not the scoring). */
  seconds: number;
  /** Peak resident set size during the edit, MiB. */
  peakRssMb: number;
  /** Peak live GPU bytes seen during the edit, MiB. */
  gpuLiveMb: number;
  /** The shifts (caller disposes, or keeps them applied). */
  shifts: Map<number, Tensor>;
}

/**
 * Scores, edits all requests at once, scores again. The model is left edited (shifts applied);
 * call `revertShifts(model)` to undo.
 * @param model The LM.
 * @param editor The editor.
 * @param requests The facts.
 * @param scoreBefore Also score the unedited model (default true).
 * @returns Scores, time and memory.
 */
export async function editAndScore(
  model: GPT,
  editor: Editor,
  requests: readonly EditRequest[],
  scoreBefore = true,
): Promise<EditOutcome> {
  revertShifts(model);
  const perRequestBefore = scoreBefore ? await scoreRequests(model, requests) : emptyScores();
  resetPeakMemory(model.backend);
  const t0 = performance.now();
  const shifts = await editor.computeShifts(model, requests);
  await sync(model.backend);
  const seconds = (performance.now() - t0) / 1000;
  const peak = {
    rss: peakRssBytes() / 2 ** 20,
    gpu: memoryStats(model.backend).peakLiveBytes / 2 ** 20,
  };
  applyShifts(model, shifts);
  const perRequest = await scoreRequests(model, requests);
  return {
    editor: editor.name,
    m: requests.length,
    before: summarize(perRequestBefore),
    after: summarize(perRequest),
    perRequest,
    perRequestBefore,
    seconds,
    peakRssMb: peak.rss,
    gpuLiveMb: peak.gpu,
    shifts,
  };
}

function emptyScores(): RequestScores {
  return { es: [], gs: [], ls: [], efficacy: [], paraphrase: [], neighborhood: [] };
}
