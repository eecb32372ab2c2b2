import { deepStrictEqual, ok } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import { GPT } from "../../../engine/models/gpt/model.ts";
import { copyInto } from "../../../engine/ops/copy.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import {
  harmonicMean,
  scoreRequests,
  selectionScore,
  summarize,
} from "../../../malmen/eval/metrics.ts";
import type { EditRequest } from "../../../malmen/eval/requests.ts";
import { pairStats } from "../../../malmen/lm/evaluate.ts";

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

// A hand-built GPT whose next-token distribution is the same after every prefix: every block's
// output projections are zero (each block adds nothing to the residual stream) and the final
// LayerNorm has gain 0 and bias b, so the logits are b·wteᵀ whatever the input. With wte[j] =
// (j, 0) and b = (1, 0) the logits are (0, 1, 2, 3): P(j) = e^j / Σ e^k, argmax 3.
function stubModel(): GPT {
  const model = new GPT(
    gptConfig({ vocabSize: 4, nCtx: 8, dModel: 2, nLayer: 1, nHead: 1, layerNormEps: 1e-5 }),
    { backend: CPU, seed: 1 },
  );
  for (const [name, p] of model.parameters()) {
    const values = new Float64Array(p.size);
    if (name === "wte.weight") { for (let j = 0; j < 4; j++) values[2 * j] = j; }
    if (name === "ln_f.bias") values[0] = 1;
    copyInto(p, tensor(values, p.shape, { backend: CPU }));
  }
  model.setTrainable(false);
  return model;
}

// −log P(j) of the stub, by hand.
const logZ = Math.log(1 + Math.E + Math.E ** 2 + Math.E ** 3);
const nll = (...answer: number[]): number => answer.reduce((a, j) => a + logZ - j, 0);

const pa = (answer: number[]) => ({ prompt: [1, 2], answer });
const request = (parts: Omit<EditRequest, "record">): EditRequest => ({
  record: { case_id: 0 } as EditRecord,
  ...parts,
});

Deno.test("the stub model's probabilities are the hand-computed ones", async () => {
  const model = stubModel();
  const s = await pairStats(model, [pa([3]), pa([0, 2]), pa([3, 3, 1])]);
  close(s.nll[0], nll(3));
  close(s.nll[1], nll(0, 2));
  close(s.nll[2], nll(3, 3, 1));
  deepStrictEqual(s.acc, [1, 0, 2 / 3]);
  model.dispose();
});

Deno.test("`scoreRequests()` reads each metric from its own tuples, with the hand-computed values", async () => {
  const model = stubModel();
  // Token 3 is the argmax, so accuracy counts 3s; a likelier answer has the larger token ids.
  const requests = [
    // ES 1, GS 1/2, LS 0; efficacy: P(3) > P(1) → 1; paraphrase: P(3,0) vs P(2): −log =
    // 2·logZ − 3 vs logZ − 2, lower for the paraphrase iff logZ < 1, false → 0; neighbourhood:
    // P(true 0) > P(new 3)? no → 0.
    request({
      edit: pa([3]),
      editTrue: pa([1]),
      equiv: pa([3, 0]),
      equivTrue: pa([2]),
      unrel: pa([0]),
      unrelNew: pa([3]),
    }),
    // ES 0, GS 1, LS 1; efficacy: P(2) > P(2)? a tie is not a success → 0; paraphrase:
    // P(3) > P(1) → 1; neighbourhood: P(true 3) > P(new 2) → 1.
    request({
      edit: pa([2]),
      editTrue: pa([2]),
      equiv: pa([3]),
      equivTrue: pa([1]),
      unrel: pa([3]),
      unrelNew: pa([2]),
    }),
    // Multi-token answers: ES 1/2, GS 0, LS 1/3; efficacy: −log P(3,1) = 2logZ − 4 vs
    // −log P(0,3) = 2logZ − 3 → 1; paraphrase: −log P(1,1) = 2logZ − 2 vs −log P(2,2) =
    // 2logZ − 4 → 0; neighbourhood: −log P(3,0,0) = 3logZ − 3 vs −log P(1) = logZ − 1 → 0.
    request({
      edit: pa([3, 1]),
      editTrue: pa([0, 3]),
      equiv: pa([1, 1]),
      equivTrue: pa([2, 2]),
      unrel: pa([3, 0, 0]),
      unrelNew: pa([1]),
    }),
  ];
  const s = await scoreRequests(model, requests);
  deepStrictEqual(s, {
    es: [1, 0, 0.5],
    gs: [0.5, 1, 0],
    ls: [0, 1, 1 / 3],
    efficacy: [1, 0, 1],
    paraphrase: [0, 1, 0],
    neighborhood: [0, 1, 0],
  });
  // Neighbourhood compares the locality prompt's true answer against the NEW target: with the
  // comparison reversed every value above would flip.
  const summary = summarize(s);
  close(summary.es, 0.5);
  close(summary.gs, 0.5);
  close(summary.ls, 4 / 9);
  close(summary.efficacy, 2 / 3);
  close(summary.paraphrase, 1 / 3);
  close(summary.neighborhood, 1 / 3);
  close(summary.score, 3 / (3 / 2 + 3 + 3));
  close(selectionScore(summary), 3 / (2 + 2 + 9 / 4));
  // Mini-batches of 2 give the same per-request scores as one batch.
  deepStrictEqual(await scoreRequests(model, requests, 2), s);
  model.dispose();
});

Deno.test("`summarize()` of no requests is all zeros", () => {
  const s = summarize({ es: [], gs: [], ls: [], efficacy: [], paraphrase: [], neighborhood: [] });
  deepStrictEqual(s, {
    es: 0,
    gs: 0,
    ls: 0,
    efficacy: 0,
    paraphrase: 0,
    neighborhood: 0,
    score: 0,
  });
});
