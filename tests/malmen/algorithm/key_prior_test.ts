import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { CPU } from "../../../engine/backend.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { captureBatch } from "../../../malmen/algorithm/capture.ts";
import { defaultEditorConfig } from "../../../malmen/editors/editor.ts";
import { HyperEditor, KEY_MOMENTS_FILE } from "../../../malmen/editors/hyper.ts";
import {
  keyCovariances,
  keySecondMoments,
  scaledPrior,
} from "../../../malmen/algorithm/key_prior.ts";
import { editedLayer } from "../../../malmen/algorithm/shifts.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { bestCheckpoint, latestCheckpoint } from "../../../malmen/lm/run_dir.ts";
import { trainEditor } from "../../../malmen/editors/train_editor.ts";
import { randomRequests } from "../_requests.ts";
import { frozenLm } from "../_lm.ts";

const V = 19;

Deno.test("`keySecondMoments()` is the mean of uuᵀ over every answer-predicting key", async () => {
  const lm = frozenLm(V);
  const facts = randomRequests(7, V, 4).map((r) => r.edit);
  // Mini-batches of 3: 3, 3, 1 facts, so the streaming must weight rows, not batches.
  const moments = keySecondMoments(lm, facts, [0, 1], 3);
  const all = captureBatch(lm, facts, [0, 1]);
  for (let l = 0; l < 2; l++) {
    const [n, d] = all[l].keys.shape;
    const u = await all[l].keys.toArray();
    const ref = new Float64Array(d * d);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) ref[i * d + j] += (u[r * d + i] * u[r * d + j]) / n;
      }
    }
    assertClose(await moments[l].toArray(), ref, { atol: 1e-12, rtol: 1e-9 }, `layer ${l}`);
  }
  const p = scaledPrior(moments, 2.5);
  assertClose(
    await p[0].toArray(),
    Float64Array.from(await moments[0].toArray(), (x) => 2.5 * x),
    { atol: 0, rtol: 1e-12 },
  );
  throws(() => scaledPrior(moments, -1), /≥ 0/);
  throws(() => keySecondMoments(lm, [], [0]), /at least one/);
  lm.dispose();
});

Deno.test("`keyCovariances()` is the mean of kkᵀ over every position of the texts but their last", async () => {
  const lm = frozenLm(V);
  const texts = randomRequests(7, V, 5).map((r) => [...r.edit.prompt, ...r.edit.answer]);
  // Batches of 3 texts of unequal lengths: padding must not count, rows are weighted.
  const covs = keyCovariances(lm, texts, [1, 0], 3);
  deepStrictEqual([...covs.keys()], [1, 0]);
  for (const l of [0, 1]) {
    const d = lm.config.dInner;
    const ref = new Float64Array(d * d);
    let n = 0;
    for (const t of texts) {
      // Keys of one whole text through the GPT's own forward, at its first t.length − 1 tokens.
      const at = tensor(Array.from({ length: t.length - 1 }, (_, i) => i), [t.length - 1], {
        backend: CPU,
        dtype: "int32",
      });
      const tap = editedLayer(lm, l).startCapture(at);
      noGrad(() => lm.forward(tensor(t, [1, t.length], { backend: CPU, dtype: "int32" })));
      const u = await tap.takeKeys().toArray();
      editedLayer(lm, l).stopCapture();
      for (let r = 0; r < t.length - 1; r++) {
        n++;
        for (let i = 0; i < d; i++) {
          for (let j = 0; j < d; j++) ref[i * d + j] += u[r * d + i] * u[r * d + j];
        }
      }
    }
    assertClose(await covs.get(l)!.toArray(), ref.map((x) => x / n), { atol: 1e-12, rtol: 1e-9 });
  }
  throws(() => keyCovariances(lm, [], [0]), /at least one text/);
  throws(() => keyCovariances(lm, texts, [2]), /Cannot capture layer 2: the model has 2 layers/);
  lm.dispose();
});

Deno.test("a MALMEN editor with a key prior saves its key statistics and edits the same after loading", async () => {
  const lm = frozenLm(V);
  const config = { ...defaultEditorConfig(2), layers: [0, 1], rank: 4, etaInit: 0.3, keyPrior: 5 };
  const editor = new HyperEditor("malmen", lm, config);
  const facts = randomRequests(6, V, 8);
  editor.setKeyMoments(keySecondMoments(lm, facts.map((r) => r.edit), [0, 1]));
  ok(editor.keyPrior !== null && editor.keyPrior.length === 2);
  throws(() => editor.setKeyMoments([]), /expected 2 layers/);
  const reqs = randomRequests(5, V, 9);
  const before = await editor.computeShifts(lm, reqs);
  const dir = await Deno.makeTempDir();
  await editor.save(dir);
  const loaded = await HyperEditor.load(dir, lm);
  const after = await loaded.computeShifts(lm, reqs);
  // The statistics are stored as float32.
  for (const [layer, t] of before) {
    assertClose(await after.get(layer)!.toArray(), await t.toArray(), { atol: 1e-9, rtol: 1e-5 });
  }
  // The prior changes the edit: without it the shifts differ.
  const plain = new HyperEditor("malmen", lm, { ...config, keyPrior: 0 });
  plain.net.loadStateDict(editor.net.stateDict());
  plain.net.normalizer.loadState(await editor.net.normalizer.saveState());
  const noPrior = await plain.computeShifts(lm, reqs);
  const a = await noPrior.get(1)!.toArray();
  const b = await before.get(1)!.toArray();
  ok(a.some((x, i) => Math.abs(x - b[i]) > 1e-6), "prior had no effect");
  // A checkpoint whose config asks for a prior but lacks the statistics is reported.
  await Deno.remove(`${dir}/${KEY_MOMENTS_FILE}`);
  await rejects(() => HyperEditor.load(dir, lm), /keyPrior is set/);
  for (const e of [editor, loaded, plain]) e.dispose();
  lm.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`trainEditor()` computes the key statistics, resamples facts per epoch and can start from a checkpoint", async () => {
  const lm = frozenLm(V);
  const train = randomRequests(8, V, 10);
  const val = randomRequests(4, V, 11);
  const dir = await Deno.makeTempDir();
  const config = { ...defaultEditorConfig(2), lmBatch: 4, rank: 4, etaInit: 0.3, keyPrior: 3 };
  const base = { outDir: dir, editor: "malmen" as const, config, nEdits: 4, valEvery: 2 };
  await rejects(() => trainEditor(lm, train, val, { ...base, steps: 1 }), /keyPriorFacts/);
  const epochs: number[] = [];
  const r = await trainEditor(lm, train, val, {
    ...base,
    steps: 6,
    keyPriorFacts: train.map((r) => r.edit),
    resample: (epoch) => {
      epochs.push(epoch);
      return randomRequests(8, V, 100 + epoch);
    },
  });
  // Two steps per epoch: epochs 1 and 2 are drawn once each (epoch 0 uses `train`).
  deepStrictEqual(epochs, [1, 2]);
  ok(r.editor.keyPrior !== null);
  const latest = (await latestCheckpoint(dir))!;
  await Deno.stat(`${latest.folder}/${KEY_MOMENTS_FILE}`);
  await Deno.stat(`${(await bestCheckpoint(dir))!.folder}/${KEY_MOMENTS_FILE}`);
  // Fine-tuning from the checkpoint starts from its weights (step 0, same first edit).
  const dir2 = await Deno.makeTempDir();
  const ft = await trainEditor(lm, train, val, {
    ...base,
    outDir: dir2,
    steps: 0,
    initFrom: latest.folder,
    keyPriorFacts: train.map((r) => r.edit),
  });
  deepStrictEqual(ft.steps, 0);
  const a = await r.editor.computeShifts(lm, val);
  const b = await ft.editor.computeShifts(lm, val);
  assertClose(await b.get(1)!.toArray(), await a.get(1)!.toArray(), { atol: 1e-9, rtol: 1e-5 });
  await rejects(
    () =>
      trainEditor(lm, train, val, {
        ...base,
        outDir: dir2,
        steps: 3,
        keyPriorFacts: train.map((r) => r.edit),
        resample: () => randomRequests(2, V, 1),
      }),
    /fewer than 4/,
  );
  r.editor.dispose();
  ft.editor.dispose();
  lm.dispose();
  for (const d of [dir, dir2]) await Deno.remove(d, { recursive: true });
});

Deno.test("`HyperEditor.setKeyMoments()` rejects statistics of the wrong width", () => {
  const lm = frozenLm(V);
  const editor = new HyperEditor("malmen", lm, {
    ...defaultEditorConfig(2),
    layers: [0, 1],
    rank: 4,
    keyPrior: 1,
  });
  const wrong = [0, 1].map(() => tensor(new Float64Array(9), [3, 3], { backend: CPU }));
  throws(() => editor.setKeyMoments(wrong), /\[32,32\]/);
  editor.dispose();
  lm.dispose();
});
