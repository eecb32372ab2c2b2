import { deepStrictEqual, ok } from "node:assert/strict";
import { harmonicMean, selectionScore, summarize } from "../../../malmen/eval/metrics.ts";

const close = (a: number, b: number): void => ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

Deno.test("`harmonicMean()` is n / Σ 1/x and 0 when any part is 0 or there are none", () => {
  close(harmonicMean([1, 1, 1]), 1);
  close(harmonicMean([0.5, 0.5]), 0.5);
  close(harmonicMean([1, 0.5, 0.25]), 3 / (1 + 2 + 4));
  close(harmonicMean([0.9]), 0.9);
  deepStrictEqual(harmonicMean([1, 0, 1]), 0);
  deepStrictEqual(harmonicMean([]), 0);
  // Below the arithmetic mean, and dominated by the weakest part.
  ok(harmonicMean([1, 0.1]) < 0.2);
});

Deno.test("`selectionScore()` is the harmonic mean of ES, GS and LS only", () => {
  const s = summarize({
    es: [1, 1, 0.5, 1],
    gs: [0.5, 0.5, 0, 1],
    ls: [1, 0.5, 0.5, 1],
    efficacy: [0, 0, 0, 0],
    paraphrase: [1, 1, 1, 1],
    neighborhood: [1, 1, 1, 1],
  });
  deepStrictEqual([s.es, s.gs, s.ls], [0.875, 0.5, 0.75]);
  // CounterFact's score is 0 here (efficacy 0); selection ignores it.
  deepStrictEqual(s.score, 0);
  close(selectionScore(s), 3 / (1 / 0.875 + 1 / 0.5 + 1 / 0.75));
  close(s.score, harmonicMean([s.efficacy, s.paraphrase, s.neighborhood]));
  deepStrictEqual(selectionScore({ ...s, ls: 0 }), 0);
  // It rewards balance: the same arithmetic mean scores higher when even.
  ok(
    selectionScore({ ...s, es: 0.7, gs: 0.7, ls: 0.7 }) >
      selectionScore({ ...s, es: 1, gs: 0.1, ls: 1 }),
  );
});
