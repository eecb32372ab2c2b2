/**
 * Fine-tuning's edited layers, chosen on the validation split as MEMIT's settings are: FT
 * trains the shifts of whichever `mlp.c_proj` layers it is given, and which ones suit it (the
 * hyper-network editors' layers, or the last half of the blocks, its usual choice) is itself a
 * setting that must not be picked on the facts it is measured on.
 * @module
 */
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { EditorConfig } from "../editors/editor.ts";
import { FtEditor } from "../editors/ft.ts";
import { scoreEdit } from "../eval/edit_and_score.ts";
import { pct, type ScoreSummary, selectionScore } from "../eval/metrics.ts";
import type { EditRequest } from "../eval/requests.ts";

/** One tried layer set and how it did on the validation facts. */
export interface FtCandidate {
  /** Edited blocks. */
  layers: number[];
  /** Scores after editing the validation facts at once. */
  val: ScoreSummary;
  /** Harmonic mean of ES, GS and LS (the selection score). */
  selection: number;
}

/** The chosen fine-tuning editor and what was tried. */
export interface FtChoice {
  /** FT on the chosen layers. */
  editor: FtEditor;
  /** Every candidate, in the order tried. */
  grid: FtCandidate[];
}

/**
 * Edits the validation facts with FT on each layer set and keeps the best.
 * @param model The frozen LM.
 * @param config FT's settings (learning rate, epochs; its `layers` are replaced).
 * @param layerSets Candidate layer sets (duplicates are tried once).
 * @param val Validation facts.
 * @param log Progress messages.
 */
export async function chooseFtLayers(
  model: GPT,
  config: EditorConfig,
  layerSets: readonly (readonly number[])[],
  val: readonly EditRequest[],
  log?: (message: string) => void,
): Promise<FtChoice> {
  const unique = [...new Map(layerSets.map((l) => [l.join(","), [...l]])).values()];
  if (unique.length === 0) throw new RangeError("Choosing FT's layers needs at least one set");
  if (unique.length === 1) {
    return { editor: new FtEditor({ ...config, layers: unique[0] }), grid: [] };
  }
  if (val.length === 0) throw new RangeError("Choosing FT's layers needs validation facts");
  const grid: FtCandidate[] = [];
  for (const layers of unique) {
    const { after } = await scoreEdit(model, new FtEditor({ ...config, layers }), val, false);
    grid.push({ layers, val: after, selection: selectionScore(after) });
    log?.(
      `FT on blocks ${layers.join(", ")}: val ES ${pct(after.es)} GS ${pct(after.gs)} LS ${
        pct(after.ls)
      }`,
    );
  }
  // The first of equals wins, as in MEMIT's choice.
  const best = grid.reduce((a, b) => (b.selection > a.selection ? b : a)).layers;
  return { editor: new FtEditor({ ...config, layers: best }), grid };
}
