// The one-line summary of an edit that `--json` prints (demo, edit CLI, edit_quality bench).
import { deepStrictEqual } from "node:assert/strict";
import { editReport } from "../../../malmen/eval/report.ts";
import { scoreLine } from "../../../examples/_cli/score_line.ts";
import { requests, scores } from "../../malmen/eval/_scores.ts";

Deno.test("`scoreLine()` is the --json line: every score after the edit, 4 decimals, and seconds", () => {
  const line = scoreLine(editReport(scores, requests));
  deepStrictEqual(line, {
    editor: "memit",
    m: 2,
    es: 0.75,
    gs: 0.5,
    ls: 1,
    efficacy: 0.5,
    paraphrase: 0.5,
    neighborhood: 1,
    score: 0.6,
    seconds: 1.2346,
  });
});
