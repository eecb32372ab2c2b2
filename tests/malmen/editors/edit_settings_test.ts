// The edit-time settings of the hyper-network editors: where keys are taken, the edit's own key
// prior, the shift scale and the number of passes saved with the editor.
import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import { defaultEditorConfig, type EditorConfig } from "../../../malmen/editors/editor.ts";
import { captureBatch, disposeRows } from "../../../malmen/algorithm/capture.ts";
import { keySecondMoments } from "../../../malmen/algorithm/key_prior.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { zeros } from "../../../engine/ops/creation.ts";
import { tidy } from "../../../engine/scope.ts";
import { lmLoss } from "../../../engine/models/gpt/model.ts";
import { disposeBatch, editBatch } from "../../../engine/models/gpt/batch.ts";
import { editedLayer } from "../../../malmen/algorithm/shifts.ts";
import { randomRequests } from "../_requests.ts";
import { frozenLm } from "../_lm.ts";

const V = 19;

function config(over: Partial<EditorConfig> = {}): EditorConfig {
  return { ...defaultEditorConfig(2), layers: [0, 1], rank: 4, etaInit: 0.3, ...over };
}

async function arrays(shifts: Map<number, Tensor>): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  for (const t of shifts.values()) out.push(Float64Array.from(await t.toArray()));
  return out;
}

Deno.test("keys at the first answer token are the answer rows at each fact's first position", async () => {
  const lm = frozenLm(V);
  const reqs = randomRequests(9, V, 4);
  const pairs = reqs.map((r) => r.edit);
  ok(pairs.some((p) => p.answer.length > 1), "some answers must have several tokens");
  const all = captureBatch(lm, pairs, [0, 1]);
  const first = captureBatch(lm, pairs, [0, 1], "first");
  // Rows of `all` are ordered by fact, one per answer token: the first of each fact is kept.
  const starts: number[] = [];
  let row = 0;
  for (const p of pairs) {
    starts.push(row);
    row += p.answer.length;
  }
  for (let k = 0; k < 2; k++) {
    deepStrictEqual(first[k].keys.shape[0], pairs.length);
    deepStrictEqual(all[k].keys.shape[0], row);
    for (const field of ["keys", "valueGrads"] as const) {
      const a = await all[k][field].toArray();
      const f = await first[k][field].toArray();
      const width = all[k][field].shape[1];
      const want = starts.flatMap((s) => Array.from(a.slice(s * width, (s + 1) * width)));
      assertClose(f, Float64Array.from(want), { atol: 0, rtol: 0 }, `layer ${k} ${field}`);
    }
  }
  disposeRows(all);
  disposeRows(first);
  lm.dispose();
});

// Σ over rows of keyᵀ·valueGrad, as [in, out] (the layer's weight layout).
async function outerSum(keys: Tensor, grads: Tensor): Promise<Float64Array> {
  const [n, din] = keys.shape;
  const dout = grads.shape[1];
  const k = await keys.toArray();
  const g = await grads.toArray();
  const out = new Float64Array(din * dout);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < din; i++) {
      for (let j = 0; j < dout; j++) out[i * dout + j] += k[r * din + i] * g[r * dout + j];
    }
  }
  return out;
}

Deno.test("keys at every position are the prompt and answer rows, and account for the whole ∂L/∂W", async () => {
  const lm = frozenLm(V);
  const pairs = randomRequests(9, V, 4).map((r) => r.edit);
  const all = captureBatch(lm, pairs, [0, 1], "all");
  const answer = captureBatch(lm, pairs, [0, 1]);
  // ∂L/∂W of each edited layer, independently: the gradient of a zero leaf shift.
  const leaves = [0, 1].map((l) => {
    const layer = editedLayer(lm, l);
    const leaf = zeros([layer.inFeatures, layer.outFeatures], { backend: lm.backend });
    leaf.requiresGrad = true;
    layer.setShift(leaf);
    return leaf;
  });
  const batch = editBatch(pairs, { backend: lm.backend, maxLength: lm.config.nCtx });
  tidy(() => lmLoss(lm.forward(batch.ids, { at: batch.positions }), batch.targets).backward());
  disposeBatch(batch);
  // Fact i gives prompt + answer − 1 rows; its answer rows are its last answer-length ones.
  const counts = pairs.map((p) => p.prompt.length + p.answer.length - 1);
  const total = counts.reduce((a, b) => a + b, 0);
  for (let k = 0; k < 2; k++) {
    deepStrictEqual(all[k].keys.shape[0], total);
    for (const field of ["keys", "valueGrads"] as const) {
      const a = await all[k][field].toArray();
      const width = all[k][field].shape[1];
      let start = 0;
      const want: number[] = [];
      pairs.forEach((p, i) => {
        const from = start + p.prompt.length - 1;
        want.push(...a.slice(from * width, (from + p.answer.length) * width));
        start += counts[i];
      });
      const got = await answer[k][field].toArray();
      assertClose(got, Float64Array.from(want), { atol: 0, rtol: 0 }, `layer ${k} ${field}`);
    }
    const grad = Float64Array.from(await leaves[k].grad!.toArray());
    assertClose(await outerSum(all[k].keys, all[k].valueGrads), grad, { atol: 1e-12, rtol: 1e-9 });
    // In block 0 the prompt rows carry part of it (their outputs reach later answer positions
    // through block 1's attention); in the last block they cannot, so the answer rows are all.
    const partial = await outerSum(answer[k].keys, answer[k].valueGrads);
    const short = partial.some((x, i) => Math.abs(x - grad[i]) > 1e-6);
    deepStrictEqual(short, k === 0, `layer ${k}: do the prompt rows add to ∂L/∂W?`);
  }
  for (const l of [0, 1]) editedLayer(lm, l).setShift(null);
  leaves.forEach((t) => t.dispose());
  disposeRows(all);
  disposeRows(answer);
  lm.dispose();
});

Deno.test("`editEtaScale` multiplies the shift of an edit by the factor, `editEtaScaleBySize` by edit size", async () => {
  const lm = frozenLm(V);
  const reqs = randomRequests(6, V, 5);
  const plain = new HyperEditor("malmen", lm, config());
  const scaled = new HyperEditor("malmen", lm, config({ editEtaScale: 3 }));
  scaled.net.loadStateDict(plain.net.stateDict());
  const a = await arrays(await plain.computeShifts(lm, reqs));
  const b = await arrays(await scaled.computeShifts(lm, reqs));
  a.forEach((x, i) => {
    ok(x.some((v) => Math.abs(v) > 1e-9), "the shift must not be zero");
    assertClose(b[i], x.map((v) => 3 * v), { atol: 1e-12, rtol: 1e-9 });
  });
  // By size: 6 facts fall under the second bound (×2); 7 facts would be above both (×3).
  const bySize = new HyperEditor(
    "malmen",
    lm,
    config({ editEtaScale: 3, editEtaScaleBySize: [[4, 1], [6, 2]] }),
  );
  bySize.net.loadStateDict(plain.net.stateDict());
  deepStrictEqual([1, 4, 5, 6, 7, 512].map((m) => bySize.etaScaleFor(m)), [1, 1, 2, 2, 3, 3]);
  const c = await arrays(await bySize.computeShifts(lm, reqs));
  a.forEach((x, i) => assertClose(c[i], x.map((v) => 2 * v), { atol: 1e-12, rtol: 1e-9 }));
  for (const bad of [[[4, 1], [4, 2]], [[0, 1]], [[4, 0]], [[2.5, 1]]]) {
    throws(
      () =>
        new HyperEditor("malmen", lm, config({ editEtaScaleBySize: bad as [number, number][] })),
      /editEtaScaleBySize\[\d\] must be \[maxFacts, scale\]/,
    );
  }
  throws(
    () => new HyperEditor("malmen", lm, config({ keyPositions: "subject" as "all" })),
    /^RangeError: keyPositions must be one of answer, first, all, got "subject"$/,
  );
  plain.dispose();
  scaled.dispose();
  bySize.dispose();
  lm.dispose();
});

Deno.test("`editKeyPrior` is the prior of edits only; meta-training keeps `keyPrior`", async () => {
  const lm = frozenLm(V);
  const facts = randomRequests(8, V, 6).map((r) => r.edit);
  const reqs = randomRequests(5, V, 7);
  const withMoments = (c: EditorConfig): HyperEditor => {
    const e = new HyperEditor("malmen", lm, c);
    e.setKeyMoments(keySecondMoments(lm, facts, [0, 1]));
    return e;
  };
  // The reference: the same prior for meta-training and edits.
  const both = withMoments(config({ keyPrior: 4 }));
  const editOnly = withMoments(config({ keyPrior: 0, editKeyPrior: 4 }));
  editOnly.net.loadStateDict(both.net.stateDict());
  ok(editOnly.usesKeyPrior, "an edit prior needs the key statistics");
  deepStrictEqual(editOnly.keyPrior, null);
  const want = await arrays(await both.computeShifts(lm, reqs));
  const got = await arrays(await editOnly.computeShifts(lm, reqs));
  want.forEach((w, i) => assertClose(got[i], w, { atol: 1e-12, rtol: 1e-9 }));
  // Without any prior the edit differs, so the match above is not vacuous.
  const none = new HyperEditor("malmen", lm, config());
  none.net.loadStateDict(both.net.stateDict());
  const plain = await arrays(await none.computeShifts(lm, reqs));
  ok(plain[0].some((v, j) => Math.abs(v - want[0][j]) > 1e-6), "the prior must change the edit");
  // `setEditKeyPrior()` after the fact gives the edit of an editor made with that prior, and 0
  // gives the plain one; bad weights and an editor without statistics are refused.
  const tuned = withMoments(config({ keyPrior: 0, editKeyPrior: 1 }));
  tuned.net.loadStateDict(both.net.stateDict());
  tuned.setEditKeyPrior(4);
  const tunedShifts = await arrays(await tuned.computeShifts(lm, reqs));
  want.forEach((w, i) => assertClose(tunedShifts[i], w, { atol: 1e-12, rtol: 1e-9 }));
  tuned.setEditKeyPrior(0);
  const unprimed = await arrays(await tuned.computeShifts(lm, reqs));
  plain.forEach((w, i) => assertClose(unprimed[i], w, { atol: 1e-12, rtol: 1e-9 }));
  throws(() => tuned.setEditKeyPrior(-1), /must be a number ≥ 0, got "-1"/);
  throws(() => none.setEditKeyPrior(4), /holds no key statistics/);
  tuned.dispose();
  // A saved editor keeps the edit prior and the edit settings.
  const dir = await Deno.makeTempDir();
  const saved = withMoments(config({ editKeyPrior: 4, editPasses: 3, keyPositions: "first" }));
  await saved.save(dir);
  const loaded = await HyperEditor.load(dir, lm);
  deepStrictEqual(loaded.editPasses, 3);
  deepStrictEqual(loaded.config.keyPositions, "first");
  ok(loaded.keyMoments !== null, "the key statistics are saved with an edit prior");
  // A saved editor with key positions this code does not know is refused, naming the field.
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/editor.json`));
  meta.config.keyPositions = "subject";
  await Deno.writeTextFile(`${dir}/editor.json`, JSON.stringify(meta));
  await rejects(
    HyperEditor.load(dir, lm),
    /field "config.keyPositions" must be one of answer, first, all, got "subject"/,
  );
  for (const e of [both, editOnly, none, saved, loaded]) e.dispose();
  lm.dispose();
  await Deno.remove(dir, { recursive: true });
});
