/**
 * Edit requests as token ids: the three tuples MALMEN uses per fact — the edit (prompt → new
 * target), the equivalent paraphrase (→ new target) and the unrelated locality probe (→ its own
 * true answer) — plus the CounterFact-style comparison targets.
 * @module
 */
import type { PromptAnswer } from "../../engine/models/gpt/batch.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import type { EditRecord } from "../data/edit_record.ts";

/** One fact to edit, tokenised. */
export interface EditRequest {
  /** Source record. */
  record: EditRecord;
  /** prompt → target_new (drives the edit; ES). */
  edit: PromptAnswer;
  /** rephrase_prompt → target_new (generalisation; GS). */
  equiv: PromptAnswer;
  /** locality_prompt → locality_ground_truth (locality; LS). */
  unrel: PromptAnswer;
  /** prompt → ground_truth (the old answer, for CounterFact efficacy). */
  editTrue: PromptAnswer;
  /** rephrase_prompt → ground_truth. */
  equivTrue: PromptAnswer;
  /** locality_prompt → target_new (for CounterFact neighbourhood). */
  unrelNew: PromptAnswer;
}

function pair(tokenizer: Tokenizer, prompt: string, answer: string): PromptAnswer {
  return { prompt: tokenizer.encode(prompt), answer: tokenizer.encode(` ${answer}`) };
}

/**
 * Tokenises records GPT-2 style (answers get a leading space).
 * @param records Edit records.
 * @param maxLength Longest allowed prompt + answer (the model's context); longer records throw.
 * @returns One request per record.
 */
export function toRequests(
  tokenizer: Tokenizer,
  records: readonly EditRecord[],
  maxLength = Infinity,
): EditRequest[] {
  return records.map((r, i) => {
    const q: EditRequest = {
      record: r,
      edit: pair(tokenizer, r.prompt, r.target_new),
      equiv: pair(tokenizer, r.rephrase_prompt, r.target_new),
      unrel: pair(tokenizer, r.locality_prompt, r.locality_ground_truth),
      editTrue: pair(tokenizer, r.prompt, r.ground_truth),
      equivTrue: pair(tokenizer, r.rephrase_prompt, r.ground_truth),
      unrelNew: pair(tokenizer, r.locality_prompt, r.target_new),
    };
    for (const [field, p] of Object.entries(q)) {
      if (field === "record") continue;
      const len = (p as PromptAnswer).prompt.length + (p as PromptAnswer).answer.length - 1;
      if (len > maxLength) {
        throw new RangeError(
          `Record ${i} (case ${r.case_id}): its ${field} tuple needs ${len} tokens, more than the model's context of ${maxLength}`,
        );
      }
    }
    return q;
  });
}

/**
 * Splits a list into consecutive mini-batches.
 * @param size Items per batch (the last may be smaller).
 */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
