// The edit report: every score before and after, per request and aggregated, as JSON (what the
// demo's report.json keeps under each editor) and as a Markdown row.
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { summarize } from "../../../malmen/eval/metrics.ts";
import { editReport, markdownSummary } from "../../../malmen/eval/report.ts";
import { perRequest, requests, scores } from "./_scores.ts";

Deno.test("`editReport()` keeps every score after the edit and each request's before and after", () => {
  const r = editReport(scores, requests);
  deepStrictEqual(Object.keys(r.after).sort(), [
    "efficacy",
    "es",
    "gs",
    "ls",
    "neighborhood",
    "paraphrase",
    "score",
  ]);
  deepStrictEqual(r.after, summarize(perRequest));
  deepStrictEqual([r.editor, r.m, r.seconds, r.peak_rss_mb], ["memit", 2, 1.23456, 100]);
  deepStrictEqual(r.requests[1], {
    case_id: 9,
    prompt: "p9",
    target_new: "t9",
    es_before: 0,
    es: 0.5,
    gs_before: 0.5,
    gs: 1,
    ls_before: 0,
    ls: 1,
    efficacy: 0,
    paraphrase: 1,
    neighborhood: 1,
    flag: "",
  });
  strictEqual(r.excluded, 0);
  const md = markdownSummary([r]);
  ok(md.includes("| memit | 2 | 0.0% → 75.0% | 25.0% → 50.0% | 50.0% → 100.0% |"), md);
});
