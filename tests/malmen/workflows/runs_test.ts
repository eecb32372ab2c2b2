// Load-or-train: a finished run is reused (not retrained), an interrupted one resumes to the
// same result, a run of another model is refused by name, and an editor run is always used at
// its checkpoint chosen on the validation split.
import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { CPU } from "../../../engine/backend.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import type { GPT } from "../../../engine/models/gpt/model.ts";
import { defaultEditorConfig } from "../../../malmen/editors/editor.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import { bestCheckpoint, latestCheckpoint, runPath } from "../../../malmen/lm/run_dir.ts";
import { DONE_FILE, editorRun, lmRun } from "../../../malmen/workflows/runs.ts";
import { worldRuns } from "../../../malmen/workflows/world.ts";
import { randomRequests } from "../_requests.ts";
import { frozenLm, tinyWorld } from "../_lm.ts";

const { corpus, tokenizer } = await tinyWorld();
const lmConfig = (dModel: number) =>
  gptConfig({
    vocabSize: tokenizer.vocabSize,
    nCtx: 24,
    dModel,
    nLayer: 1,
    nHead: 2,
    layerNormEps: 1e-5,
  });
const lmOptions = { backend: CPU, batchSize: 16, lr: 1e-2, warmup: 2, maxEpochs: 2 };

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("`lmRun()` trains once, then reuses; it resumes an interrupted run and refuses another model", async () => {
  const dir = await Deno.makeTempDir();
  const messages: string[] = [];
  const log = (m: string) => messages.push(m);
  const options = { ...lmOptions, outDir: dir, config: lmConfig(8), log };
  const a = await lmRun({ corpus, tokenizer }, options);
  ok(!a.interrupted && a.done !== null && a.done.steps > 0);
  ok(await exists(runPath(dir, DONE_FILE)));
  const b = await lmRun({ corpus, tokenizer }, options);
  deepStrictEqual(messages.map((m) => m.split(" ")[0]), ["training", "reusing"]);
  deepStrictEqual(b.done, a.done);
  const ids = tensor([[1, 2, 3]], undefined, { backend: CPU, dtype: "int32" });
  const logits = (m: GPT) => noGrad(() => m.forward(ids).toArray());
  // Checkpoints store float32: the reused model is the trained one to float32 precision.
  const f32 = { atol: 1e-5, rtol: 1e-5 };
  assertClose(await logits(b.model), await logits(a.model), f32, "reused logits");
  await rejects(
    () => lmRun({ corpus, tokenizer }, { ...options, config: lmConfig(12) }),
    /holds a language model of another configuration/,
  );
  // Interrupted after 2 steps, then resumed to the same end as the uninterrupted run.
  const split = await Deno.makeTempDir();
  const stop = { requested: false };
  const first = await lmRun({ corpus, tokenizer }, {
    ...options,
    outDir: split,
    stop,
    onStep: (i) => void (i.step === 2 && (stop.requested = true)),
  });
  ok(first.interrupted && first.done === null);
  ok(!(await exists(runPath(split, DONE_FILE))), "an interrupted run is not done");
  const resumed = await lmRun({ corpus, tokenizer }, { ...options, outDir: split });
  deepStrictEqual(resumed.done?.steps, a.done.steps);
  assertClose(await logits(resumed.model), await logits(a.model), f32, "resumed logits");
  // retrain ignores the finished run.
  messages.length = 0;
  await lmRun({ corpus, tokenizer }, { ...options, retrain: true });
  deepStrictEqual(messages.map((m) => m.split(" ")[0]), ["training"]);
  for (const r of [a, b, first, resumed]) r.model.dispose();
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(split, { recursive: true });
});

Deno.test("`editorRun()` returns the editor of the best validation checkpoint and reuses it", async () => {
  const V = 19;
  const model = frozenLm(V);
  const reqs = randomRequests(24, V, 3);
  const dir = await Deno.makeTempDir();
  const messages: string[] = [];
  const options = {
    outDir: dir,
    editor: "malmen" as const,
    config: { ...defaultEditorConfig(2), lmBatch: 4, rank: 4, etaInit: 0.3 },
    nEdits: 4,
    steps: 8,
    valEvery: 2,
    valEdits: 8,
    metaLr: 3e-2,
    log: (m: string) => messages.push(m),
  };
  const stop = { requested: false };
  const cut = await editorRun(model, reqs.slice(0, 16), reqs.slice(16), {
    ...options,
    stop,
    onStep: (i) => void (i.step === 3 && (stop.requested = true)),
  });
  ok(cut.interrupted && !(await exists(runPath(dir, DONE_FILE))));
  cut.editor.dispose();
  const a = await editorRun(model, reqs.slice(0, 16), reqs.slice(16), options);
  const best = await bestCheckpoint(dir);
  ok(!a.interrupted && best !== null);
  deepStrictEqual([a.provenance.step, a.provenance.trainedSteps], [best.step, 8]);
  ok(a.provenance.val !== null, "the selected step's validation is reported");
  // The returned editor is the best checkpoint's, not the last step's.
  const saved = await HyperEditor.load(best.folder, model);
  const eta = async (e: HyperEditor) => Array.from(await e.net.eta.toArray());
  const eta0 = await eta(a.editor);
  deepStrictEqual(await eta(a.editor), await eta(saved));
  const last = await HyperEditor.load((await latestCheckpoint(dir))!.folder, model);
  ok(best.step < 8, `the best is step ${best.step}, so best and last can be told apart`);
  ok((await eta(last)).some((x, i) => x !== eta0[i]), "the last step's editor differs");
  const b = await editorRun(model, reqs.slice(0, 16), reqs.slice(16), options);
  deepStrictEqual(messages.map((m) => m.split(" ")[0]), [
    "meta-training",
    "meta-training",
    "reusing",
  ]);
  deepStrictEqual(b.provenance, a.provenance);
  for (const e of [a.editor, b.editor, saved, last]) e.dispose();
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`worldRuns({ train: false })` names a missing run or a run of another world", async () => {
  const dir = await Deno.makeTempDir();
  await rejects(
    () => worldRuns({ dir, backend: CPU, train: false }),
    new RegExp(`No trained language model in "${dir}/lm"`),
  );
  await Deno.writeTextFile(`${dir}/world.json`, JSON.stringify({ seed: 9, people: 12 }));
  await rejects(
    () => worldRuns({ dir, backend: CPU, train: false }),
    /holds runs of another world/,
  );
  await Deno.remove(dir, { recursive: true });
});
