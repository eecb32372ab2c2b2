/**
 * Load-or-build a MEMIT editor: its "training" is the key covariances over the LM's own
 * training texts and, when candidates are given, the choice of settings on the validation
 * split (the best harmonic mean of ES, GS and LS). The folder keeps both, so a rerun, the edit
 * CLI and the benchmarks use the same editor.
 * @module
 */
import type { GPT } from "../../engine/models/gpt/model.ts";
import { isNotFound, platform } from "../../engine/platform/mod.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { keyCovariances } from "../algorithm/key_prior.ts";
import {
  defaultMemitSettings,
  MEMIT_FILE,
  MemitEditor,
  type MemitSettings,
} from "../editors/memit.ts";
import { scoreEdit } from "../eval/edit_and_score.ts";
import { pct, type ScoreSummary, selectionScore } from "../eval/metrics.ts";
import type { EditRequest } from "../eval/requests.ts";
import type { ProvenanceOptions } from "../lm/identity.ts";
import { runPath } from "../lm/run_dir.ts";
import type { RunOptions } from "./runs.ts";

/** One candidate's validation result. */
export type MemitCandidate = MemitProvenance["grid"][number];

/** How a MEMIT editor was set up. */
export interface MemitProvenance {
  /** The settings used. */
  settings: MemitSettings;
  /** Training texts the key covariances average over. */
  texts: number;
  /** Validation facts each candidate edited (0 when there was no choice). */
  valFacts: number;
  /** Every candidate tried on val, in order (empty when the settings were given). */
  grid: {
    /** The candidate's settings (over the base settings). */
    settings: Partial<MemitSettings>;
    /** Scores after editing the validation facts. */
    val: ScoreSummary;
    /** Its selection score (harmonic mean of ES, GS, LS). */
    selection: number;
  }[];
  /** Seconds spent on statistics and selection. */
  seconds: number;
}

/** Options of {@linkcode memitRun}. */
export interface MemitRunOptions extends RunOptions, ProvenanceOptions {
  /** The editor folder. */
  dir: string;
  /** The LM's training texts as token ids (for the key covariances). */
  texts: readonly (readonly number[])[];
  /** Validation facts (the choice among candidates). */
  val: readonly EditRequest[];
  /** Base settings over `defaultMemitSettings`. */
  settings?: Partial<MemitSettings>;
  /** Candidates over the base settings, chosen among on val (none: the base settings). */
  grid?: readonly Partial<MemitSettings>[];
  /** Validation facts per candidate edit (default: all). */
  valEdits?: number;
  /** Train (compute and choose) when the folder has no editor (default true). */
  train?: boolean;
}

/** A MEMIT editor and how it was obtained. */
export interface MemitRun {
  /** The editor (caller disposes). */
  editor: MemitEditor;
  /** Statistics and selection. */
  provenance: MemitProvenance;
}

/**
 * The MEMIT editor of `options.dir`: loaded when saved, else built (statistics, choice on val)
 * and saved.
 * @param model The frozen LM.
 * @param options Folder, texts, validation facts, settings and candidates.
 */
export async function memitRun(model: GPT, options: MemitRunOptions): Promise<MemitRun> {
  const path = runPath(options.dir, MEMIT_FILE);
  const saved = options.retrain ? null : await readProvenance(path);
  if (saved !== null) {
    options.log?.(`reusing the MEMIT editor in ${options.dir}`);
    const editor = await MemitEditor.load(options.dir, model, options);
    return { editor, provenance: saved };
  }
  if (options.train === false) {
    throw new Error(
      `No MEMIT editor in "${options.dir}" (no ${MEMIT_FILE}): run \`deno task demo\` first, or name another folder`,
    );
  }
  const t0 = performance.now();
  const base = { ...defaultMemitSettings(model.config.nLayer), ...options.settings };
  const grid = options.grid ?? [];
  const candidates = grid.length === 0 ? [base] : grid.map((g) => ({ ...base, ...g }));
  const layers = [...new Set(candidates.flatMap((c) => c.layers))].sort((a, b) => a - b);
  options.log?.(
    `MEMIT: key covariances of blocks ${
      layers.join(", ")
    } over ${options.texts.length} training texts`,
  );
  const covs = keyCovariances(model, options.texts, layers, base.batch);
  const subset = (s: MemitSettings): Map<number, Tensor> =>
    new Map(s.layers.map((l) => [l, covs.get(l)!]));
  const val = options.val.slice(0, options.valEdits ?? options.val.length);
  const tried: MemitCandidate[] = [];
  let best = base;
  try {
    if (grid.length > 0) {
      if (val.length === 0) {
        throw new RangeError("Choosing MEMIT's settings needs validation facts");
      }
      let bestScore = -1;
      for (let i = 0; i < candidates.length; i++) {
        // Candidates borrow the covariances; only the final editor owns (and frees) them.
        const o = await scoreEdit(
          model,
          new MemitEditor(model, candidates[i], subset(candidates[i])),
          val,
          false,
        );
        const selection = selectionScore(o.after);
        tried.push({ settings: grid[i], val: o.after, selection });
        const name = Object.keys(grid[i]).length === 0 ? "defaults" : JSON.stringify(grid[i]);
        options.log?.(
          `MEMIT ${name}: val ES ${pct(o.after.es)} GS ${pct(o.after.gs)} LS ${pct(o.after.ls)}`,
        );
        if (selection > bestScore) {
          bestScore = selection;
          best = candidates[i];
        }
      }
    }
  } catch (e) {
    for (const c of covs.values()) c.dispose();
    throw e;
  }
  for (const [l, c] of covs) if (!best.layers.includes(l)) c.dispose();
  const editor = new MemitEditor(model, best, subset(best));
  const provenance: MemitProvenance = {
    settings: best,
    texts: options.texts.length,
    valFacts: grid.length > 0 ? val.length : 0,
    grid: tried,
    seconds: (performance.now() - t0) / 1000,
  };
  await editor.save(options.dir, { provenance });
  return { editor, provenance };
}

async function readProvenance(path: string): Promise<MemitProvenance | null> {
  let text: string;
  try {
    text = await platform().readTextFile(path);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  const meta = JSON.parse(text) as { settings: MemitSettings; provenance?: MemitProvenance };
  return meta.provenance ??
    { settings: meta.settings, texts: 0, valFacts: 0, grid: [], seconds: 0 };
}
