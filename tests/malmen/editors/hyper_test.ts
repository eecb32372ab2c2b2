import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import { FtEditor } from "../../../malmen/editors/ft.ts";
import { defaultEditorConfig } from "../../../malmen/editors/editor.ts";
import { cacheEdits, disposeCache } from "../../../malmen/algorithm/capture.ts";
import { clearShifts, getShift, setShift } from "../../../malmen/algorithm/shifts.ts";
import { aggregateRows } from "../../../malmen/algorithm/stream.ts";
import {
  applyShifts,
  readJournalEntry,
  revertShifts,
  writeJournalEntry,
} from "../../../malmen/editors/journal.ts";
import { pairStats } from "../../../malmen/lm/evaluate.ts";
import { AdamW } from "../../../engine/nn/adamw.ts";
import type { EditRequest } from "../../../malmen/eval/requests.ts";
import { randomRequests } from "../_requests.ts";
import { frozenLm } from "../_lm.ts";

const V = 19;

function requests(count: number): EditRequest[] {
  return randomRequests(count, V, 3);
}

for (const [name, at] of [["malmen", "answer"], ["mend", "answer"], ["malmen", "all"]] as const) {
  Deno.test(`\`computeShifts()\` (${name}, keys at ${at}) streaming equals the shift of the cached rows when m is not a multiple of the batch`, async () => {
    const lm = frozenLm(V);
    const editor = new HyperEditor(name, lm, {
      ...defaultEditorConfig(2),
      lmBatch: 3,
      chunk: 4,
      rank: 5,
      etaInit: 0.1,
      keyPositions: at,
    });
    const reqs = requests(7);
    const streamed = await editor.computeShifts(lm, reqs);
    const cache = cacheEdits(
      lm,
      reqs.map((r) => r.edit),
      editor.config.layers,
      editor.config.lmBatch,
      undefined,
      at,
    );
    const aggregators = editor.aggregators();
    const shifts = await aggregateRows(cache.batches, aggregators, editor.config.chunk);
    for (let i = 0; i < editor.config.layers.length; i++) {
      const a = await streamed.get(editor.config.layers[i])!.toArray();
      const b = await shifts[i].toArray();
      assertClose(a, b, { atol: 1e-12, rtol: 1e-9 }, `layer ${editor.config.layers[i]}`);
      ok(b.some((x) => x !== 0), "the shift must not be zero");
    }
    for (const a of aggregators) a.dispose();
    disposeCache(cache);
    editor.dispose();
    lm.dispose();
  });
}

Deno.test("`computeShifts()` with two passes adds a second shift computed on the edited model", async () => {
  const lm = frozenLm(V);
  const editor = new HyperEditor("malmen", lm, {
    ...defaultEditorConfig(2),
    layers: [0, 1],
    lmBatch: 3,
    rank: 5,
    etaInit: 0.3,
  });
  const reqs = requests(7);
  const first = await editor.computeShifts(lm, reqs);
  // The reference: the second pass by hand, phase A and B on the model with the first shifts.
  for (const [layer, t] of first) setShift(lm, layer, t);
  const cache = cacheEdits(lm, reqs.map((r) => r.edit), editor.config.layers, 3);
  const aggregators = editor.aggregators();
  const second = await aggregateRows(cache.batches, aggregators, editor.config.chunk);
  clearShifts(lm);
  editor.editPasses = 2;
  const both = await editor.computeShifts(lm, reqs);
  for (let i = 0; i < 2; i++) {
    const layer = editor.config.layers[i];
    const a = await first.get(layer)!.toArray();
    const b = await second[i].toArray();
    const got = await both.get(layer)!.toArray();
    assertClose(got, Float64Array.from(a, (x, j) => x + b[j]), { atol: 1e-12, rtol: 1e-9 });
    ok(b.some((x) => Math.abs(x) > 1e-9), "the second pass must add something");
  }
  // The model is left without shifts.
  deepStrictEqual(editor.config.layers.map((l) => getShift(lm, l)), [null, null]);
  editor.editPasses = 0;
  await rejects(() => editor.computeShifts(lm, reqs), /editPasses/);
  for (const a of aggregators) a.dispose();
  disposeCache(cache);
  editor.dispose();
  lm.dispose();
});

Deno.test("a journal entry round-trips and reverting restores the model exactly", async () => {
  const lm = frozenLm(V);
  const editor = new HyperEditor("malmen", lm, {
    ...defaultEditorConfig(2),
    lmBatch: 4,
    rank: 5,
    etaInit: 0.5,
  });
  const reqs = requests(5);
  const probe = reqs.map((r) => r.unrel);
  const before = await pairStats(lm, probe);
  const shifts = await editor.computeShifts(lm, reqs);
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await writeJournalEntry(path, shifts, { editor: "malmen", m: 5, created: "test" });
  const { shifts: read, metadata } = await readJournalEntry(path, lm);
  deepStrictEqual(metadata.editor, "malmen");
  deepStrictEqual([...read.keys()], [...shifts.keys()]);
  applyShifts(lm, read);
  const edited = await pairStats(lm, probe);
  ok(edited.nll.some((x, i) => x !== before.nll[i]), "the edit must change the model");
  revertShifts(lm);
  const after = await pairStats(lm, probe);
  deepStrictEqual(after.nll, before.nll);
  await Deno.remove(path);
  for (const t of [...shifts.values(), ...read.values()]) t.dispose();
  editor.dispose();
  lm.dispose();
});

Deno.test("`readJournalEntry()` names a tensor that is not a layer shift", async () => {
  const lm = frozenLm(V);
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  const { writeSafetensors } = await import("../../../engine/io/safetensors.ts");
  await writeSafetensors(
    path,
    new Map([["h.0.attn.weight", { dtype: "F32", shape: [1], data: new Float32Array(1) }]]),
  );
  let message = "";
  try {
    await readJournalEntry(path, lm);
  } catch (e) {
    message = (e as Error).message;
  }
  ok(message.includes('tensor "h.0.attn.weight" is not a layer shift'), message);
  await Deno.remove(path);
  lm.dispose();
});

Deno.test("`FtEditor` lowers the edit loss of its facts", async () => {
  const lm = frozenLm(V);
  const reqs = requests(4);
  const edits = reqs.map((r) => r.edit);
  const before = await pairStats(lm, edits);
  const ft = new FtEditor({ ...defaultEditorConfig(2), ftEpochs: 15, ftLr: 0.05, lmBatch: 2 });
  const shifts = await ft.computeShifts(lm, reqs);
  deepStrictEqual(getShift(lm, 1), null);
  applyShifts(lm, shifts);
  const after = await pairStats(lm, edits);
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  // A random tiny model's last layer moves the logits only a little: require a clear decrease.
  ok(sum(after.nll) < sum(before.nll) - 0.1, `NLL ${sum(before.nll)} -> ${sum(after.nll)}`);
  revertShifts(lm);
  for (const t of shifts.values()) t.dispose();
  lm.dispose();
});

// Counts AdamW steps taken while `fn` runs.
async function countSteps<T>(fn: () => Promise<T>): Promise<{ result: T; steps: number }> {
  const original = AdamW.prototype.step;
  let steps = 0;
  AdamW.prototype.step = function (this: AdamW): void {
    steps++;
    original.call(this);
  };
  try {
    return { result: await fn(), steps };
  } finally {
    AdamW.prototype.step = original;
  }
}

Deno.test("`FtEditor` takes at least `ftMinSteps` Adam steps, in whole epochs", async () => {
  const lm = frozenLm(V);
  const reqs = requests(6);
  const steps = async (lmBatch: number, ftEpochs: number, ftMinSteps?: number): Promise<number> => {
    const ft = new FtEditor({
      ...defaultEditorConfig(2),
      lmBatch,
      ftEpochs,
      ftMinSteps,
      ftLr: 0.05,
    });
    const { result, steps } = await countSteps(() => ft.computeShifts(lm, reqs));
    for (const t of result.values()) t.dispose();
    return steps;
  };
  deepStrictEqual(await steps(6, 1, 0), 1); // One batch, one epoch.
  deepStrictEqual(await steps(6, 1, undefined), 1); // No minimum.
  deepStrictEqual(await steps(6, 1, 30), 30); // One batch: 30 epochs.
  deepStrictEqual(await steps(2, 1, 30), 30); // Three batches: 10 epochs.
  deepStrictEqual(await steps(4, 1, 5), 6); // Two batches: 3 whole epochs.
  deepStrictEqual(await steps(3, 20, 5), 40); // Epochs already give more than the minimum.
  lm.dispose();
});

Deno.test("`FtEditor` with one batch and `ftMinSteps: 30` fits the edits far better than one step", async () => {
  // Token embeddings 25× larger than at init, so the last layer's shift can move the logits
  // far (at GPT-2 init the tied output layer caps how much the NLL can fall).
  const lm = frozenLm(V);
  const wte = lm.getParameter("wte.weight");
  const scaled = Float64Array.from(await wte.toArray(), (x) => 25 * x);
  lm.loadStateDict(new Map([["wte.weight", { shape: wte.shape, data: scaled }]]), {
    strict: false,
  });
  const reqs = requests(4);
  const edits = reqs.map((r) => r.edit);
  const before = await pairStats(lm, edits);
  const fit = async (ftMinSteps: number) => {
    const ft = new FtEditor({
      ...defaultEditorConfig(2),
      ftEpochs: 1,
      ftMinSteps,
      ftLr: 0.05,
      lmBatch: 4,
    });
    const shifts = await ft.computeShifts(lm, reqs);
    applyShifts(lm, shifts);
    const after = await pairStats(lm, edits);
    revertShifts(lm);
    for (const t of shifts.values()) t.dispose();
    return after;
  };
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const one = await fit(0);
  const many = await fit(30);
  const b = sum(before.nll);
  const d1 = b - sum(one.nll);
  const d30 = b - sum(many.nll);
  ok(d1 > 0, `one step must already help: ${b} -> ${sum(one.nll)}`);
  ok(d30 > 5 * d1, `NLL drop after 30 steps ${d30} vs after 1 step ${d1}`);
  ok(sum(many.acc) > sum(one.acc), `accuracy ${many.acc} vs ${one.acc}`);
  lm.dispose();
});
