// The edit-time settings of the hyper-network editors: where keys are taken, the edit's own key
// prior, the shift scale and the number of passes saved with the editor.
import { deepStrictEqual, ok } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import { defaultEditorConfig, type EditorConfig } from "../../../malmen/editors/editor.ts";
import { captureBatch, disposeRows } from "../../../malmen/algorithm/capture.ts";
import { keySecondMoments } from "../../../malmen/algorithm/key_prior.ts";
import type { Tensor } from "../../../engine/tensor.ts";
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

Deno.test("`editEtaScale` multiplies the shift of an edit by the factor", async () => {
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
  plain.dispose();
  scaled.dispose();
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
  // A saved editor keeps the edit prior and the edit settings.
  const dir = await Deno.makeTempDir();
  const saved = withMoments(config({ editKeyPrior: 4, editPasses: 3, keyPositions: "first" }));
  await saved.save(dir);
  const loaded = await HyperEditor.load(dir, lm);
  deepStrictEqual(loaded.editPasses, 3);
  deepStrictEqual(loaded.config.keyPositions, "first");
  ok(loaded.keyMoments !== null, "the key statistics are saved with an edit prior");
  for (const e of [both, editOnly, none, saved, loaded]) e.dispose();
  lm.dispose();
  await Deno.remove(dir, { recursive: true });
});
