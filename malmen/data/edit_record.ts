/**
 * The one edit-request schema every loader and generator produces and every downstream stage
 * (tokenisation, meta-training, evaluation) consumes. Field names follow the flattened
 * CounterFact files so those load without renaming.
 * @module
 */

/**
 * One fact to edit, with the probes used to score the edit.
 *
 * @example
 * ```ts
 * import type { EditRecord } from "./edit_record.ts";
 * const record: EditRecord = {
 *   case_id: 0,
 *   prompt: "The mother tongue of Danielle Darrieux is",
 *   subject: "Danielle Darrieux",
 *   ground_truth: "French",
 *   target_new: "English",
 *   rephrase_prompt: "Where Danielle Darrieux is from, people speak the language of",
 *   locality_prompt: "Michel Rocard is a native speaker of",
 *   locality_ground_truth: "French",
 * };
 * console.log(record.target_new);
 * ```
 */
export interface EditRecord {
  /** Identifier unique within its source (CounterFact's case_id; zsRE: index in the file). */
  case_id: number;
  /** Edit prompt with the subject filled in; the answer follows it after one space. */
  prompt: string;
  /** The entity the fact is about, as it appears in `prompt`. */
  subject: string;
  /** The answer that is true before editing (zsRE: `answers[0]`). */
  ground_truth: string;
  /**
   * The counterfactual answer to edit towards (zsRE: `alt`). Empty only for zsRE records whose
   * `alt` is empty and were loaded with `emptyAlt: "keep"`.
   */
  target_new: string;
  /** A paraphrase of `prompt` with the same answer; scores generalisation. */
  rephrase_prompt: string;
  /** A prompt about an unrelated fact, which the edit must leave unchanged. */
  locality_prompt: string;
  /** The true answer to `locality_prompt`. */
  locality_ground_truth: string;
  /** Relation id when known (synthetic world: e.g. "born_in"); absent in the real files. */
  relation?: string;
}
