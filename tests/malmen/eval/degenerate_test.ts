// Edit requests that cannot be measured are found by index with their reason, rejected with an
// error listing them, or kept flagged and left out of the report's rates.
import { deepStrictEqual, ok } from "node:assert/strict";
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import { degenerateError, findDegenerate } from "../../../malmen/eval/degenerate.ts";
import type { EditScores } from "../../../malmen/eval/edit_and_score.ts";
import { summarize } from "../../../malmen/eval/metrics.ts";
import { editReport, markdownSummary } from "../../../malmen/eval/report.ts";
import type { EditRequest } from "../../../malmen/eval/requests.ts";

function rec(
  i: number,
  subject: string,
  prompt: string,
  truth: string,
  target: string,
): EditRecord {
  return {
    case_id: i,
    prompt,
    subject,
    ground_truth: truth,
    target_new: target,
    rephrase_prompt: `${prompt}, so to say,`,
    locality_prompt: "Elsewhere it is",
    locality_ground_truth: "x",
  };
}

const RECORDS = [
  rec(0, "Ana", "Ana lives in", "Lyon", "Paris"), // fine
  rec(1, "Ben", "Ben speaks", "Dutch", ""), // empty target (zsRE alt "")
  rec(2, "Cem", "Cem plays", "chess", " chess "), // already the answer
  rec(3, "Dia", "Dia works for", "Acme", "Globex"), // conflicts with 5
  rec(4, "Ana", "Ana was born in", "Oslo", "Rome"), // same subject, other prompt: fine
  rec(5, "Dia", "Dia works for", "Acme", "Initech"), // conflicts with 3
  rec(6, "Eli", "Eli owns", "a cat", "a dog"), // duplicate of 7, same target: fine
  rec(7, "Eli", "Eli owns", "a cat", "a dog"),
];

Deno.test("`findDegenerate()` names empty targets, targets equal to the answer and conflicts by index", () => {
  deepStrictEqual(findDegenerate(RECORDS), [
    { index: 1, kind: "empty-target", detail: "the target is empty" },
    { index: 2, kind: "target-is-answer", detail: 'the target "chess" is already the answer' },
    {
      index: 3,
      kind: "conflict",
      detail:
        `the target "Globex" conflicts with record 5's "Initech" for the same subject and prompt`,
    },
    {
      index: 5,
      kind: "conflict",
      detail:
        `the target "Initech" conflicts with record 3's "Globex" for the same subject and prompt`,
    },
  ]);
  deepStrictEqual(findDegenerate([RECORDS[0], RECORDS[4], RECORDS[6], RECORDS[7]]), []);
});

Deno.test("`degenerateError()` lists the requests by index and says how to keep them", () => {
  const e = degenerateError("edits.json", findDegenerate(RECORDS));
  deepStrictEqual(
    e.message,
    `edits.json: 4 edit requests cannot be measured (record 1: the target is empty; record 2: ` +
      `the target "chess" is already the answer; record 3: the target "Globex" conflicts with ` +
      `record 5's "Initech" for the same subject and prompt; record 5: the target "Initech" ` +
      `conflicts with record 3's "Globex" for the same subject and prompt). Remove them, or pass ` +
      `--allow-conflicts to keep them flagged in the report and left out of the success rates`,
  );
  const many = Array.from({ length: 12 }, (_, i) => rec(i, `S${i}`, "p", "a", "a"));
  ok(degenerateError("f", findDegenerate(many)).message.includes("record 9: the target"));
  ok(degenerateError("f", findDegenerate(many)).message.includes("; and 2 more)"));
});

Deno.test("`editReport()` flags kept degenerate requests and leaves them out of the rates", () => {
  const records = [...RECORDS.slice(0, 4), RECORDS[5]];
  const requests = records.map((record) => ({ record }) as EditRequest);
  // Hand-made scores: the flagged requests 1 to 4 all "succeed".
  const after = {
    es: [0, 1, 1, 1, 1],
    gs: [0.5, 1, 1, 1, 1],
    ls: [1, 0, 0, 0, 0],
    efficacy: [1, 1, 1, 1, 1],
    paraphrase: [0, 1, 1, 1, 1],
    neighborhood: [1, 1, 1, 0, 0],
  };
  const before = { ...after, es: [0, 0, 1, 0, 0] };
  const outcome: EditScores = {
    editor: "malmen",
    m: 5,
    before: summarize(before),
    after: summarize(after),
    perRequest: after,
    perRequestBefore: before,
    seconds: 1,
    peakRssMb: 1,
    gpuLiveMb: 0,
  };
  const flagged = findDegenerate(records);
  const report = editReport(outcome, requests, flagged);
  deepStrictEqual(report.excluded, 4);
  // Only request 0 counts.
  deepStrictEqual(
    [report.after.es, report.after.gs, report.after.ls, report.before.es],
    [0, 0.5, 1, 0],
  );
  deepStrictEqual(report.requests.map((r) => r.flag), [
    "",
    "empty-target",
    "target-is-answer",
    "conflict",
    "conflict",
  ]);
  ok(markdownSummary([report]).includes("| malmen | 5 (4 left out) |"));
  // Without flags the rates are the outcome's.
  const plain = editReport(outcome, requests);
  deepStrictEqual([plain.excluded, plain.after.es], [0, 0.8]);
});
