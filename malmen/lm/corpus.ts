/**
 * The language model's corpus: training sequences and the (prompt, answer) pairs its knowledge is
 * measured on, built from the synthetic world or from CounterFact's true facts.
 * @module
 */
import type { PromptAnswer } from "../../engine/models/gpt/batch.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import type { EditRecord } from "../data/edit_record.ts";
import { relationById, renderTemplate } from "../data/relations.ts";
import type { World } from "../data/world.ts";

/** A fact as text: the prompt and the answer that should follow it (no leading space). */
export interface TextFact {
  /** Prompt text. */
  prompt: string;
  /** Answer text. */
  answer: string;
}

/** What the LM trains on and is scored on. */
export interface LmCorpus {
  /** Training texts as (prompt, answer) facts; the LM reads `prompt + " " + answer`. */
  training: TextFact[];
  /** Facts seen in training (answer accuracy must reach the target on these). */
  facts: TextFact[];
  /** The same facts in held-out phrasings (paraphrase accuracy). */
  paraphrases: TextFact[];
}

/**
 * The world's corpus: every fact in every training template; paraphrases use held-out ones.
 * @param world A generated world.
 */
export function worldCorpus(world: World): LmCorpus {
  const training: TextFact[] = [];
  const paraphrases: TextFact[] = [];
  for (const fact of world.facts) {
    const relation = relationById(fact.relation);
    for (const t of relation.trainTemplates) {
      training.push({ prompt: renderTemplate(t, fact.subject), answer: fact.object });
    }
    for (const t of relation.heldOutTemplates) {
      paraphrases.push({ prompt: renderTemplate(t, fact.subject), answer: fact.object });
    }
  }
  return { training, facts: training, paraphrases };
}

/**
 * CounterFact's TRUE facts as a corpus: prompt → ground truth and locality prompt → its answer
 * are trained on; rephrased prompts → ground truth measure paraphrase accuracy (and are also
 * trained on when `trainParaphrases` is set, as the report's base model does).
 * @param records Flattened CounterFact records.
 * @param trainParaphrases Also train on the rephrased prompts.
 */
export function counterFactCorpus(
  records: readonly EditRecord[],
  trainParaphrases = false,
): LmCorpus {
  const facts: TextFact[] = [];
  const paraphrases: TextFact[] = [];
  const seen = new Set<string>();
  const push = (list: TextFact[], prompt: string, answer: string): void => {
    const key = `${prompt}\u0000${answer}`;
    if (list === facts && seen.has(key)) return;
    if (list === facts) seen.add(key);
    list.push({ prompt, answer });
  };
  for (const r of records) {
    push(facts, r.prompt, r.ground_truth);
    push(facts, r.locality_prompt, r.locality_ground_truth);
    push(paraphrases, r.rephrase_prompt, r.ground_truth);
  }
  const training = trainParaphrases ? [...facts, ...paraphrases] : [...facts];
  return { training, facts, paraphrases };
}

/**
 * Tokenises a fact GPT-2 style: the answer gets a leading space.
 * @returns Prompt and answer ids.
 */
export function encodeFact(tokenizer: Tokenizer, fact: TextFact): PromptAnswer {
  return { prompt: tokenizer.encode(fact.prompt), answer: tokenizer.encode(` ${fact.answer}`) };
}

/**
 * All texts of a corpus (for building a compact vocabulary).
 * @returns Prompt + answer strings.
 */
export function corpusTexts(corpus: LmCorpus): string[] {
  return [...corpus.training, ...corpus.paraphrases].map((f) => `${f.prompt} ${f.answer}`);
}
