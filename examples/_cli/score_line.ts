/**
 * The one-line JSON summary of an edit that `--json` prints (demo and edit CLI alike).
 * @module
 */
import type { ScoreSummary } from "../../malmen/eval/metrics.ts";
import { r4 } from "./options.ts";

/** What the summary line is made from (an `EditReport` or an `EditOutcome` fits). */
export interface ScoreLineSource {
  /** Editor name. */
  editor: string;
  /** Facts edited. */
  m: number;
  /** Scores after the edit. */
  after: ScoreSummary;
  /** Seconds to compute the edit. */
  seconds: number;
}

/**
 * The scores after an edit rounded to 4 decimals, with the editor, m and the edit's seconds:
 * `{editor, m, es, gs, ls, efficacy, paraphrase, neighborhood, score, seconds}`.
 * @param r The edit.
 */
export function scoreLine(r: ScoreLineSource): Record<string, string | number> {
  const a = r.after;
  return {
    editor: r.editor,
    m: r.m,
    es: r4(a.es),
    gs: r4(a.gs),
    ls: r4(a.ls),
    efficacy: r4(a.efficacy),
    paraphrase: r4(a.paraphrase),
    neighborhood: r4(a.neighborhood),
    score: r4(a.score),
    seconds: r4(r.seconds),
  };
}
