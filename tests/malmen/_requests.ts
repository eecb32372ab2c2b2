// Random edit requests over a small vocabulary (token ids 1..V-1), seeded: prompts of 2–4
// tokens, answers of 1–2 tokens, every tuple of a request independent.
import { rng } from "../../engine/ops/creation.ts";
import type { PromptAnswer } from "../../engine/models/gpt/batch.ts";
import type { EditRequest } from "../../malmen/eval/requests.ts";
import type { EditRecord } from "../../malmen/data/edit_record.ts";

/**
 * Makes `count` random requests.
 * @param count How many.
 * @param vocab Vocabulary size V.
 */
export function randomRequests(count: number, vocab: number, seed: number): EditRequest[] {
  const next = rng(seed);
  const ids = (n: number): number[] =>
    Array.from({ length: n }, () => 1 + Math.floor(next() * (vocab - 1)));
  const p = (): PromptAnswer => ({
    prompt: ids(2 + Math.floor(next() * 3)),
    answer: ids(1 + Math.floor(next() * 2)),
  });
  return Array.from({ length: count }, (_, i) => ({
    record: { case_id: i } as EditRecord,
    edit: p(),
    equiv: p(),
    unrel: p(),
    editTrue: p(),
    equivTrue: p(),
    unrelNew: p(),
  }));
}
