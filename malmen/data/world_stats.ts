/**
 * Summary numbers for a generated world, for reports and for checking that a configuration
 * stays small enough for a tiny language model.
 * @module
 */

import { renderTemplate } from "./relations.ts";
import type { World } from "./world.ts";

/**
 * Size statistics of a world.
 * @example
 * ```ts
 * import { generateWorld } from "./world.ts";
 * import { describeWorld, type WorldStats } from "./world_stats.ts";
 * const stats: WorldStats = describeWorld(generateWorld());
 * console.log(stats.distinctWords);
 * ```
 */
export interface WorldStats {
  /** True facts. */
  facts: number;
  /** Distinct subjects. */
  subjects: number;
  /** Relations. */
  relations: number;
  /** Strings the LM is trained on. */
  trainingTexts: number;
  /** Edit records per split, and locality-only facts. */
  splits: { train: number; val: number; edit: number; locality: number };
  /** Distinct space-separated words over training texts and all record prompts and targets. */
  distinctWords: number;
  /** Longest prompt in words, over every template of every fact. */
  maxPromptWords: number;
  /** Fraction of facts whose true answer has two or more words. */
  multiWordAnswerFraction: number;
  /** Fraction of edit-split records whose `target_new` has two or more words. */
  multiWordTargetFraction: number;
}

/**
 * Computes a world's statistics.
 * @param world A world from `generateWorld`.
 * @example
 * ```ts
 * import { generateWorld } from "./world.ts";
 * import { describeWorld } from "./world_stats.ts";
 * console.log(describeWorld(generateWorld()).facts); // 2096
 * ```
 */
export function describeWorld(world: World): WorldStats {
  const words = new Set<string>();
  const addWords = (text: string): void => {
    for (const w of text.split(" ")) words.add(w);
  };
  world.trainingTexts.forEach(addWords);
  let maxPromptWords = 0;
  for (const fact of world.facts) {
    const relation = world.relations.find((r) => r.id === fact.relation)!;
    for (const t of [...relation.trainTemplates, ...relation.heldOutTemplates]) {
      const prompt = renderTemplate(t, fact.subject);
      addWords(prompt);
      maxPromptWords = Math.max(maxPromptWords, prompt.split(" ").length);
    }
  }
  for (const r of [...world.train, ...world.val, ...world.edit]) addWords(r.target_new);
  const multi = (s: string): boolean => s.split(" ").length >= 2;
  return {
    facts: world.facts.length,
    subjects: new Set(world.facts.map((f) => f.subject)).size,
    relations: world.relations.length,
    trainingTexts: world.trainingTexts.length,
    splits: {
      train: world.train.length,
      val: world.val.length,
      edit: world.edit.length,
      locality: world.locality.length,
    },
    distinctWords: words.size,
    maxPromptWords,
    multiWordAnswerFraction: world.facts.filter((f) => multi(f.object)).length /
      Math.max(1, world.facts.length),
    multiWordTargetFraction: world.edit.filter((r) => multi(r.target_new)).length /
      Math.max(1, world.edit.length),
  };
}
