/**
 * Edit reports: per-request and aggregated scores before and after, as JSON and Markdown.
 * @module
 */
import type { EditScores } from "./edit_and_score.ts";
import { type RequestScores, type ScoreSummary, summarize } from "./metrics.ts";
import type { EditRequest } from "./requests.ts";

/** The JSON report of one edit. */
export interface EditReport {
  /** Editor. */
  editor: string;
  /** Facts edited. */
  m: number;
  /** Seconds to compute the shifts. */
  seconds: number;
  /** Peak RSS during the edit (MiB). */
  peak_rss_mb: number;
  /** Peak live GPU memory during the edit (MiB). */
  gpu_live_mb: number;
  /** Aggregates before the edit (flagged requests left out). */
  before: ScoreSummary;
  /** Aggregates after the edit (flagged requests left out). */
  after: ScoreSummary;
  /** Requests left out of the aggregates (degenerate ones kept with --allow-conflicts). */
  excluded: number;
  /** One row per request; `flag` names why a request is left out ("" when it is not). */
  requests: Record<string, string | number>[];
}

function without(s: RequestScores, drop: ReadonlySet<number>): RequestScores {
  const keep = (xs: number[]) => xs.filter((_, i) => !drop.has(i));
  return {
    es: keep(s.es),
    gs: keep(s.gs),
    ls: keep(s.ls),
    efficacy: keep(s.efficacy),
    paraphrase: keep(s.paraphrase),
    neighborhood: keep(s.neighborhood),
  };
}

/**
 * Builds the JSON report.
 * @param outcome The edit outcome.
 * @param requests The requests (same order).
 * @param flagged Requests that cannot be measured (index and why, as `findDegenerate` in
 *   `degenerate.ts` finds them): flagged in their rows and left out of the aggregates.
 */
export function editReport(
  outcome: EditScores,
  requests: readonly EditRequest[],
  flagged: readonly { index: number; kind: string }[] = [],
): EditReport {
  const b = outcome.perRequestBefore;
  const a = outcome.perRequest;
  const flags = new Map(flagged.map((d) => [d.index, d.kind]));
  const drop = new Set(flags.keys());
  return {
    editor: outcome.editor,
    m: outcome.m,
    seconds: outcome.seconds,
    peak_rss_mb: outcome.peakRssMb,
    gpu_live_mb: outcome.gpuLiveMb,
    before: drop.size === 0 ? outcome.before : summarize(without(b, drop)),
    after: drop.size === 0 ? outcome.after : summarize(without(a, drop)),
    excluded: drop.size,
    requests: requests.map((r, i) => ({
      case_id: r.record.case_id,
      prompt: r.record.prompt,
      target_new: r.record.target_new,
      es_before: b.es[i] ?? NaN,
      es: a.es[i],
      gs_before: b.gs[i] ?? NaN,
      gs: a.gs[i],
      ls_before: b.ls[i] ?? NaN,
      ls: a.ls[i],
      efficacy: a.efficacy[i],
      paraphrase: a.paraphrase[i],
      neighborhood: a.neighborhood[i],
      flag: flags.get(i) ?? "",
    })),
  };
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : "–");

/**
 * Markdown table of aggregates (one row per outcome).
 * @param rows Reports.
 */
export function markdownSummary(rows: readonly EditReport[]): string {
  const lines = [
    "| editor | m | ES before → after | GS before → after | LS before → after | efficacy | paraphrase | neighbourhood | score | edit time |",
    "|---|---:|---|---|---|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.editor} | ${r.m}${r.excluded ? ` (${r.excluded} left out)` : ""} | ${
        pct(r.before.es)
      } → ${pct(r.after.es)} | ${pct(r.before.gs)} → ${pct(r.after.gs)} | ${pct(r.before.ls)} → ${
        pct(r.after.ls)
      } | ${pct(r.after.efficacy)} | ${pct(r.after.paraphrase)} | ${pct(r.after.neighborhood)} | ${
        pct(r.after.score)
      } | ${r.seconds.toFixed(1)} s |`,
    );
  }
  return lines.join("\n");
}
