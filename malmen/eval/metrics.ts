/**
 * Edit metrics: ES / GS / LS as token-level top-1 accuracy on the edit, paraphrase
 * and unrelated tuples (MALMEN's definition), and CounterFact's probability comparisons —
 * efficacy [P(new) > P(true)] on the prompt, paraphrase the same on the rephrased prompt,
 * neighbourhood [P(true) > P(new)] on the locality prompt — with their harmonic mean.
 * @module
 */
import type { GPT } from "../../engine/models/gpt/model.ts";
import { pairStats } from "../lm/evaluate.ts";
import type { EditRequest } from "./requests.ts";

/** Per-request scores (each in [0, 1]). */
export interface RequestScores {
  /** Edit success: accuracy of the new target after the prompt. */
  es: number[];
  /** Generalisation: accuracy of the new target after the paraphrase. */
  gs: number[];
  /** Locality: accuracy of the unrelated prompt's true answer. */
  ls: number[];
  /** CounterFact efficacy: 1 if the new target is likelier than the old one. */
  efficacy: number[];
  /** CounterFact paraphrase: the same on the rephrased prompt. */
  paraphrase: number[];
  /** CounterFact neighbourhood: 1 if the locality answer stays likelier than the new target. */
  neighborhood: number[];
}

/** Means of {@linkcode RequestScores} plus the harmonic-mean score. */
export interface ScoreSummary {
  /** Mean edit success. */
  es: number;
  /** Mean generalisation. */
  gs: number;
  /** Mean locality. */
  ls: number;
  /** Mean efficacy. */
  efficacy: number;
  /** Mean paraphrase success. */
  paraphrase: number;
  /** Mean neighbourhood success. */
  neighborhood: number;
  /** Harmonic mean of efficacy, paraphrase and neighbourhood. */
  score: number;
}

/**
 * Scores requests on the model as it is (shifts applied or not).
 * @param batchSize Examples per forward pass.
 * @returns Per-request scores.
 */
export async function scoreRequests(
  model: GPT,
  requests: readonly EditRequest[],
  batchSize = 128,
): Promise<RequestScores> {
  const lists = [
    requests.map((r) => r.edit),
    requests.map((r) => r.editTrue),
    requests.map((r) => r.equiv),
    requests.map((r) => r.equivTrue),
    requests.map((r) => r.unrel),
    requests.map((r) => r.unrelNew),
  ];
  const [edit, editTrue, equiv, equivTrue, unrel, unrelNew] = await Promise.all(
    lists.map((l) => pairStats(model, l, batchSize)),
  );
  const less = (a: number[], b: number[]): number[] => a.map((x, i) => (x < b[i] ? 1 : 0));
  return {
    es: edit.acc,
    gs: equiv.acc,
    ls: unrel.acc,
    efficacy: less(edit.nll, editTrue.nll),
    paraphrase: less(equiv.nll, equivTrue.nll),
    neighborhood: less(unrel.nll, unrelNew.nll),
  };
}

/**
 * Means and the harmonic-mean score.
 * @param s Per-request scores.
 */
export function summarize(s: RequestScores): ScoreSummary {
  const mean = (
    xs: number[],
  ): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const efficacy = mean(s.efficacy);
  const paraphrase = mean(s.paraphrase);
  const neighborhood = mean(s.neighborhood);
  const score = harmonicMean([efficacy, paraphrase, neighborhood]);
  return {
    es: mean(s.es),
    gs: mean(s.gs),
    ls: mean(s.ls),
    efficacy,
    paraphrase,
    neighborhood,
    score,
  };
}

/**
 * Harmonic mean (0 when any part is 0): high only when every part is.
 * @param parts Values in [0, 1].
 */
export function harmonicMean(parts: readonly number[]): number {
  if (parts.length === 0 || parts.some((p) => p <= 0)) return 0;
  return parts.length / parts.reduce((a, p) => a + 1 / p, 0);
}

/**
 * What checkpoint and setting selection on the validation split maximises: the harmonic mean
 * of ES, GS and LS, so an editor cannot win by trading locality for efficacy.
 * @param s A validation summary.
 * @returns The selection score in [0, 1].
 */
export function selectionScore(s: ScoreSummary): number {
  return harmonicMean([s.es, s.gs, s.ls]);
}

/**
 * A fraction as a percentage with one decimal, for progress messages (`0.953` → `95.3%`).
 * @param x The fraction.
 */
export function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
