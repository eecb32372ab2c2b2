// The measurement: for each edit count m and editor, edit the first m held-out facts at once,
// score before and after, and record one row. Rows are saved after each measurement, so an
// interrupted sweep (Ctrl-C stops after the current measurement) resumes where it stopped.
import { writeJsonAtomic } from "../../../engine/io/atomic.ts";
import type { GPT } from "../../../engine/models/gpt/model.ts";
import type { Editor } from "../../../malmen/editors/editor.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import type { ScoreSummary } from "../../../malmen/eval/metrics.ts";
import { scoreEdit } from "../../../malmen/eval/edit_and_score.ts";
import type { EditRequest } from "../../../malmen/eval/requests.ts";
import { pct } from "../../../examples/_cli/options.ts";

/**
 * One committed result row: the editor, m, the score summary after the edit (metrics as
 * fractions, see `ScoreSummary`), the unedited model's LS on the same facts, the regime of the
 * edit (rows of each edited layer's problem against the key width, and the least-squares
 * residual where the editor solves one), and the edit's time and peak memory.
 */
export type ResultRow = { editor: string; m: number } & ScoreSummary & {
  /** LS of the unedited model on the same m facts. */
  ls_before: number;
  /**
   * Rows each edited layer's problem has: one per answer token for MALMEN, MEND and FT (their
   * keys sit at every answer-predicting position), one per fact for MEMIT; 0 unedited.
   */
  rows: number;
  /** `rows` / d_in: above 1 one ΔW per layer can no longer meet every row exactly. */
  rows_per_d_in: number;
  /** Relative residual ‖KΔW − D‖ / ‖D‖ per edited layer (MALMEN, MEMIT), else null. */
  residual: number[] | null;
  /** Seconds to compute the edit (not the scoring). */
  seconds: number;
  /** Peak resident memory while editing, MiB. */
  peak_rss_mb: number;
};

/** How well a least-squares editor's single ΔW per layer met its rows (MALMEN, MEMIT). */
export interface FitRow {
  /** Editor. */
  editor: string;
  /** Facts edited. */
  m: number;
  /** Rows each edited layer's least-squares problem had (MALMEN: answer tokens; MEMIT: facts). */
  rows: number;
  /** Relative residual ‖KΔW − D‖ / ‖D‖ per edited layer. */
  residual: number[];
  /** The edited blocks, in `residual` order (older rows: the report's edited layers). */
  layers?: number[];
}

/**
 * Edits and scores every (m, editor) pair not yet in the rows file.
 * @param model The base LM.
 * @param editors Editors in report order.
 * @param edits Held-out requests; the first m are edited (m beyond their count is skipped).
 * @param ms Edit counts.
 * @param rowsPath Where rows are saved after each measurement.
 * @param control Progress messages, a progress callback (measurements done of all planned) and
 *   the stop flag (checked before each measurement).
 * @returns All rows (earlier ones included), in (m, editor) order.
 */
export async function runSweep(
  model: GPT,
  editors: readonly Editor[],
  edits: readonly EditRequest[],
  ms: readonly number[],
  rowsPath: string,
  control: {
    log: (m: string) => void;
    progress?: (done: number, total: number) => void;
    stop?: { readonly requested: boolean };
  },
): Promise<ResultRow[]> {
  const log = control.log;
  const rows = await readRows(rowsPath);
  const fitsPath = fitsPathFor(rowsPath);
  const fits = await readFits(rowsPath);
  const has = (editor: string, m: number): boolean =>
    rows.some((r) => r.editor === editor && r.m === m);
  const planned = ms.filter((m) => m <= edits.length);
  const total = planned.length * editors.length;
  const done = () => planned.reduce((a, m) => a + editors.filter((e) => has(e.name, m)).length, 0);
  sweep: for (const m of ms) {
    if (m > edits.length) {
      log(`skipping m=${m}: only ${edits.length} held-out facts`);
      continue;
    }
    const requests = edits.slice(0, m);
    for (const editor of editors) {
      if (has(editor.name, m)) continue;
      control.progress?.(done(), total);
      if (control.stop?.requested) break sweep;
      const scoreBefore = !has("unedited", m);
      log(`m=${m} ${editor.name}: editing${scoreBefore ? " (and scoring the base model)" : ""}`);
      if (editor instanceof HyperEditor) editor.measureFit = true;
      const o = await scoreEdit(model, editor, requests, scoreBefore);
      const residual = (editor as { lastFit?: number[] | null }).lastFit ?? null;
      const regime = {
        rows: editor.name === "memit" ? m : requests.reduce((a, r) => a + r.edit.answer.length, 0),
        dIn: model.config.dInner,
        residual,
      };
      if (residual !== null) {
        const i = fits.findIndex((f) => f.editor === editor.name && f.m === m);
        if (i >= 0) fits.splice(i, 1);
        fits.push({
          editor: editor.name,
          m,
          rows: regime.rows,
          residual,
          layers: editor.config.layers,
        });
        await writeJsonAtomic(fitsPath, fits);
      }
      if (scoreBefore) {
        rows.push(row("unedited", m, o.before, o.before.ls, { rows: 0, dIn: 1, residual: null }));
      }
      const lsBefore = rows.find((r) => r.editor === "unedited" && r.m === m)!.ls;
      rows.push(row(editor.name, m, o.after, lsBefore, regime, o.seconds, o.peakRssMb));
      log(
        `m=${m} ${editor.name}: ES ${pct(o.after.es)} GS ${pct(o.after.gs)} LS ${
          pct(o.after.ls)
        } score ${pct(o.after.score)} in ${o.seconds.toFixed(1)} s`,
      );
      await writeJsonAtomic(rowsPath, rows);
    }
  }
  control.progress?.(done(), total);
  const order = ["unedited", ...editors.map((e) => e.name)];
  return rows.sort((a, b) => a.m - b.m || order.indexOf(a.editor) - order.indexOf(b.editor));
}

function row(
  editor: string,
  m: number,
  s: ScoreSummary,
  lsBefore: number,
  regime: { rows: number; dIn: number; residual: number[] | null },
  seconds = 0,
  rss = 0,
): ResultRow {
  const r4 = (x: number): number => Math.round(x * 10000) / 10000;
  return {
    editor,
    m,
    es: r4(s.es),
    gs: r4(s.gs),
    ls: r4(s.ls),
    efficacy: r4(s.efficacy),
    paraphrase: r4(s.paraphrase),
    neighborhood: r4(s.neighborhood),
    score: r4(s.score),
    ls_before: r4(lsBefore),
    rows: regime.rows,
    rows_per_d_in: r4(regime.rows / regime.dIn),
    residual: regime.residual?.map(r4) ?? null,
    seconds: Math.round(seconds * 100) / 100,
    peak_rss_mb: Math.round(rss),
  };
}

/**
 * Reads saved rows (none when the file does not exist).
 */
export async function readRows(path: string): Promise<ResultRow[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const rows = JSON.parse(text);
  if (!Array.isArray(rows)) throw new TypeError(`${path}: expected an array of result rows`);
  return rows;
}

/**
 * Where the fit diagnostics of a rows file live.
 */
export function fitsPathFor(rowsPath: string): string {
  return rowsPath.replace(/\.json$/, "") + "-fit.json";
}

/**
 * Reads the saved fit diagnostics of a rows file, in m order.
 */
export async function readFits(rowsPath: string): Promise<FitRow[]> {
  const fits = (await readRows(fitsPathFor(rowsPath))) as unknown as FitRow[];
  return fits.sort((a, b) => a.m - b.m);
}
