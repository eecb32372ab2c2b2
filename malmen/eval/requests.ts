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
  /**
   * Index in `edit.prompt` of the subject's last token (where ROME and MEMIT read and write a
   * fact), or undefined when the record's subject does not occur in its prompt.
   */
  subjectLast?: number;
}

function pair(tokenizer: Tokenizer, prompt: string, answer: string): PromptAnswer {
  return { prompt: tokenizer.encode(prompt), answer: tokenizer.encode(` ${answer}`) };
}

// The prompt's tokens up to the end of the subject's first occurrence: their count − 1 is the
// subject's last token (BPE splits at the space after a word, so the prefix tokenises as the
// prompt does; a subject ending inside a word gives the token where its end falls).
function lastSubjectToken(
  tokenizer: Tokenizer,
  r: EditRecord,
  promptLength: number,
): number | undefined {
  const at = r.subject.length > 0 ? r.prompt.indexOf(r.subject) : -1;
  if (at < 0) return undefined;
  const n = tokenizer.encode(r.prompt.slice(0, at + r.subject.length)).length;
  return n > 0 ? Math.min(n, promptLength) - 1 : undefined;
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
    const subjectLast = lastSubjectToken(tokenizer, r, q.edit.prompt.length);
    if (subjectLast !== undefined) q.subjectLast = subjectLast;
    for (const [field, p] of Object.entries(q)) {
      if (field === "record" || field === "subjectLast") continue;
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
