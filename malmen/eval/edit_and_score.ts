/**
 * Editing and scoring one batch of facts: score the unedited model, compute the shifts with
 * memory and time measured, check that they are finite, apply them, score again.
 * @module
 */
import { sync } from "../../engine/backend.ts";
import { memoryStats, peakRssBytes, resetPeakMemory } from "../../engine/memory.ts";
import { assertFinite } from "../../engine/nn/finite.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { Editor } from "../editors/editor.ts";
import { applyShifts, revertShifts } from "../editors/journal.ts";
import { type RequestScores, scoreRequests, type ScoreSummary, summarize } from "./metrics.ts";
import type { EditRequest } from "./requests.ts";

/** Scores of one batch of facts edited at once. */
export interface EditScores {
  /** Editor name. */
  editor: string;
  /** Facts edited. */
  m: number;
  /** Scores before the edit (zeros when not measured). */
  before: ScoreSummary;
  /** Scores after the edit. */
  after: ScoreSummary;
  /** Per-request scores after the edit. */
  perRequest: RequestScores;
  /** Per-request scores before the edit (empty when not measured). */
  perRequestBefore: RequestScores;
  /** Seconds to compute the shifts (the edit itself, not the scoring). */
  seconds: number;
  /** Peak resident set size during the edit, MiB. */
  peakRssMb: number;
  /** Peak live GPU bytes seen during the edit, MiB. */
  gpuLiveMb: number;
}

/** {@linkcode EditScores} plus the shifts, left applied to the model. */
export interface EditOutcome extends EditScores {
  /** Layer → ΔW (the caller disposes them, or keeps them applied). */
  shifts: Map<number, Tensor>;
}

/**
 * Scores, edits all requests at once, scores again. The model is left edited (shifts applied);
 * call `revertShifts(model)` to undo.
 * @param scoreBefore Also score the unedited model (default true).
 * @returns Scores, time, memory and the shifts.
 * @throws {NonFiniteError} When a shift holds NaN or ±Inf (nothing is applied).
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
  await requireFiniteShifts(editor.name, shifts);
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

/**
 * {@linkcode editAndScore}, then the edit is reverted and its shifts released: the model is
 * left as it was.
 * @param scoreBefore Also score the unedited model (default true).
 * @returns Scores, time and memory.
 */
export async function scoreEdit(
  model: GPT,
  editor: Editor,
  requests: readonly EditRequest[],
  scoreBefore = true,
): Promise<EditScores> {
  const { shifts, ...scores } = await editAndScore(model, editor, requests, scoreBefore);
  revertShifts(model);
  for (const t of shifts.values()) t.dispose();
  return scores;
}

// A diverged editor or LM gives NaN shifts, and every metric of a NaN model reads as 0: stop.
async function requireFiniteShifts(name: string, shifts: Map<number, Tensor>): Promise<void> {
  const entries = [...shifts];
  const values = await Promise.all(entries.map(([, t]) => t.toArray()));
  try {
    assertFinite(
      entries.map(([layer], i) => [`the shift of layer ${layer}`, values[i]] as const),
      `The ${name} edit produced non-finite shifts (did the editor or the LM diverge?)`,
    );
  } catch (e) {
    for (const t of shifts.values()) t.dispose();
    throw e;
  }
}

function emptyScores(): RequestScores {
  return { es: [], gs: [], ls: [], efficacy: [], paraphrase: [], neighborhood: [] };
}
