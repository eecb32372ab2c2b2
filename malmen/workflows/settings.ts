/**
 * The settings of the embedded default, shared by the demo, the CLIs and the benchmarks: the
 * world, the tiny GPT sized for it, and the training budgets of the demo. They are workflow
 * settings, not part of the algorithm.
 * @module
 */
import type { GPTConfig } from "../../engine/models/gpt/config.ts";
import type { WorldOptions } from "../data/world.ts";
import { type MemitSettings, paperMemitSettings } from "../editors/memit.ts";

/** The tiny model used for the embedded world (small enough for 2 CPU cores). */
export const WORLD_MODEL: Partial<GPTConfig> = {
  nCtx: 32,
  dModel: 128,
  nLayer: 4,
  nHead: 4,
};

/**
 * The embedded default world: 1,194 facts (3,582 training texts), small enough for the tiny GPT
 * to memorise in minutes on two CPU cores, with 551 held-out edit facts (so m = 512
 * simultaneous edits come from subjects never seen in meta-training), 478 meta-training facts
 * and 97 validation facts.
 */
export const DEFAULT_WORLD: WorldOptions = {
  seed: 1,
  people: 160,
  countries: 10,
  citiesPerCountry: 3,
  companies: 24,
  split: { train: 0.4, val: 0.08, edit: 0.46, locality: 0.06 },
};

/** Budgets and meta-training settings of a world run (the demo's, and the benchmarks'). */
export interface WorldBudget {
  /** LM training time limit, minutes (it stops earlier at 99.5% answer accuracy). */
  lmMinutes: number;
  /** Meta-training time limit per editor, minutes. */
  metaMinutes: number;
  /** Facts edited per meta-step. */
  nEdits: number;
  /** Adam learning rate of the hyper-network. */
  metaLr: number;
  /** Validate (and keep the best checkpoint) every this many meta-steps. */
  valEvery: number;
}

/** The demo's budget: an LM in at most 8 minutes, two minutes of meta-training per editor. */
export const WORLD_BUDGET: Readonly<WorldBudget> = {
  lmMinutes: 8,
  metaMinutes: 2,
  nEdits: 128,
  metaLr: 1e-3,
  valEvery: 5,
};

/**
 * MEMIT's candidates on a world run of an LM with `nLayer` blocks: its defaults and the paper's
 * form at the subject (`paperMemitSettings`). Each world run edits its own validation facts
 * with both and keeps the better harmonic mean of ES, GS and LS.
 * @param nLayer Blocks of the LM.
 */
export function memitGrid(nLayer: number): Partial<MemitSettings>[] {
  return [{}, paperMemitSettings(nLayer)];
}

/**
 * The seed of the one shuffle of CounterFact's edit split whose first m records every edit count
 * of the report edits (nested subsets); `deno task edit --shuffle` takes the same seed.
 */
export const COUNTERFACT_SHUFFLE_SEED = 20240126;
