import { deepStrictEqual, ok } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { CPU } from "../../../engine/backend.ts";
import { GPT } from "../../../engine/models/gpt/model.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import { FtEditor } from "../../../malmen/editors/ft.ts";
import { defaultEditorConfig } from "../../../malmen/editors/editor.ts";
import { cacheEdits, disposeCache } from "../../../malmen/capture.ts";
import { disposeShift, phaseB } from "../../../malmen/scheduler.ts";
import {
  applyShifts,
  readJournalEntry,
  revertShifts,
  writeJournalEntry,
} from "../../../malmen/journal.ts";
import { pairStats } from "../../../malmen/lm/evaluate.ts";
import type { EditRequest } from "../../../malmen/requests.ts";
import { randomRequests } from "../_requests.ts";

const V = 19;

function model(): GPT {
  const m = new GPT(
    gptConfig({ vocabSize: V, nCtx: 8, dModel: 8, nLayer: 2, nHead: 2, layerNormEps: 1e-5 }),
    {
      seed: 5,
      backend: CPU,
    },
  );
  m.setTrainable(false);
  return m;
}

function requests(count: number): EditRequest[] {
  return randomRequests(count, V, 3);
}

for (const name of ["malmen", "mend"] as const) {
  Deno.test(`\`computeShifts()\` (${name}) streaming equals the cached phase-B shift when m is not a multiple of the batch`, async () => {
    const lm = model();
    const editor = new HyperEditor(name, lm, {
      ...defaultEditorConfig(2),
      lmBatch: 3,
      chunk: 4,
      rank: 5,
      etaInit: 0.1,
    });
    const reqs = requests(7);
    const streamed = await editor.computeShifts(lm, reqs);
    const cache = cacheEdits(
      lm,
      reqs.map((r) => r.edit),
      editor.config.layers,
      editor.config.lmBatch,
    );
    const shifts = await phaseB(editor, cache);
    for (let i = 0; i < editor.config.layers.length; i++) {
      const a = await streamed.get(editor.config.layers[i])!.toArray();
      const b = await shifts[i].shift.toArray();
      assertClose(a, b, { atol: 1e-12, rtol: 1e-9 }, `layer ${editor.config.layers[i]}`);
      ok(b.some((x) => x !== 0), "the shift must not be zero");
    }
    shifts.forEach(disposeShift);
    disposeCache(cache);
    editor.dispose();
    lm.dispose();
  });
}

Deno.test("a journal entry round-trips and reverting restores the model exactly", async () => {
  const lm = model();
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
  const lm = model();
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
  const lm = model();
  const reqs = requests(4);
  const edits = reqs.map((r) => r.edit);
  const before = await pairStats(lm, edits);
  const ft = new FtEditor({ ...defaultEditorConfig(2), ftEpochs: 15, ftLr: 0.05, lmBatch: 2 });
  const shifts = await ft.computeShifts(lm, reqs);
  deepStrictEqual(lm.getShift(1), null);
  applyShifts(lm, shifts);
  const after = await pairStats(lm, edits);
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  // A random tiny model's last layer moves the logits only a little: require a clear decrease.
  ok(sum(after.nll) < sum(before.nll) - 0.1, `NLL ${sum(before.nll)} -> ${sum(after.nll)}`);
  revertShifts(lm);
  for (const t of shifts.values()) t.dispose();
  lm.dispose();
});
