import { deepStrictEqual, ok } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { rng } from "../../../engine/ops/creation.ts";
import { GPT } from "../../../engine/models/gpt/model.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import { generate } from "../../../engine/models/gpt/generate.ts";
import { defaultEditorConfig } from "../../../malmen/editors/editor.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import {
  type EditorTrainOptions,
  trainEditor,
  validateEditor,
} from "../../../malmen/editors/train_editor.ts";
import { selectionScore } from "../../../malmen/eval/metrics.ts";
import { bestCheckpoint, latestCheckpoint, runPath } from "../../../malmen/lm/run_dir.ts";
import type { EditRequest } from "../../../malmen/eval/requests.ts";
import type { EditRecord } from "../../../malmen/data/edit_record.ts";

const V = 19;

// Requests on which ES, GS and LS are all non-zero and move during meta-training: the
// paraphrase keeps the edit prompt's last two tokens, and the unrelated answer is the model's
// own greedy prediction.
async function requests(model: GPT, count: number, seed: number): Promise<EditRequest[]> {
  const next = rng(seed);
  const tok = (): number => 1 + Math.floor(next() * (V - 1));
  const out: EditRequest[] = [];
  for (let i = 0; i < count; i++) {
    const p = [tok(), tok(), tok()];
    const q = [tok(), p[1], p[2]];
    const a = [tok()];
    const u = [tok(), tok(), tok()];
    out.push({
      record: { case_id: i } as EditRecord,
      edit: { prompt: p, answer: a },
      equiv: { prompt: q, answer: a },
      unrel: { prompt: u, answer: await generate(model, u, { maxNewTokens: 1 }) },
      editTrue: { prompt: p, answer: [tok()] },
      equivTrue: { prompt: q, answer: [tok()] },
      unrelNew: { prompt: u, answer: a },
    });
  }
  return out;
}

async function setup(): Promise<{ model: GPT; reqs: EditRequest[] }> {
  const model = new GPT(
    gptConfig({ vocabSize: V, nCtx: 8, dModel: 8, nLayer: 2, nHead: 2, layerNormEps: 1e-5 }),
    { seed: 5, backend: CPU },
  );
  return { model, reqs: await requests(model, 24, 3) };
}

function train(model: GPT, reqs: EditRequest[], dir: string, extra: Partial<EditorTrainOptions>) {
  return trainEditor(model, reqs.slice(0, 16), reqs.slice(16), {
    outDir: dir,
    editor: "malmen",
    config: { ...defaultEditorConfig(2), lmBatch: 4, rank: 4, etaInit: 0.3 },
    nEdits: 4,
    steps: 12,
    valEvery: 2,
    valEdits: 8,
    metaLr: 1e-2,
    ...extra,
  });
}

Deno.test("`trainEditor()` keeps the checkpoint with the best validation selection score", async () => {
  const { model, reqs } = await setup();
  const dir = await Deno.makeTempDir();
  const r = await train(model, reqs, dir, {});
  const vals = r.history.filter((h) => h.val !== undefined);
  deepStrictEqual(vals.map((h) => h.step), [2, 4, 6, 8, 10, 12]);
  const scores = vals.map((h) => selectionScore(h.val!));
  // The first maximum wins (a later tie is not better).
  const bestAt = vals[scores.indexOf(Math.max(...scores))].step;
  ok(new Set(scores).size >= 2, `selection scores ${scores}`);
  // In this setup the best is neither the first nor the last validation, so neither "keep the
  // first" nor "keep the latest" would pass.
  ok(bestAt !== 2 && bestAt !== 12, `best at ${bestAt}: ${scores}`);
  const best = await bestCheckpoint(dir);
  deepStrictEqual(best?.step, bestAt);
  deepStrictEqual(
    best?.folder,
    runPath(dir, `checkpoints/best-${String(bestAt).padStart(7, "0")}`),
  );
  deepStrictEqual((await latestCheckpoint(dir))?.step, 12);
  const bests: string[] = [];
  for await (const e of Deno.readDir(runPath(dir, "checkpoints"))) {
    if (e.name.startsWith("best-")) bests.push(e.name);
  }
  deepStrictEqual(bests.length, 1);
  // The saved best editor reproduces its validation score.
  const loaded = await HyperEditor.load(best!.folder, model);
  const again = selectionScore(await validateEditor(model, loaded, reqs.slice(16)));
  ok(Math.abs(again - Math.max(...scores)) < 1e-9, `reloaded ${again} vs ${Math.max(...scores)}`);
  loaded.dispose();
  r.editor.dispose();

  // Interrupted after the best and resumed: the best score survives the restart, so later,
  // worse validations do not replace the best checkpoint.
  const split = await Deno.makeTempDir();
  const stop = { requested: false };
  const first = await train(model, reqs, split, {
    stop,
    onStep: (i) => {
      if (i.step === bestAt + 2) stop.requested = true;
    },
  });
  deepStrictEqual(first.steps, bestAt + 2);
  deepStrictEqual((await bestCheckpoint(split))?.step, bestAt);
  const second = await train(model, reqs, split, { resume: true });
  deepStrictEqual(second.steps, 12);
  deepStrictEqual((await bestCheckpoint(split))?.step, bestAt);
  first.editor.dispose();
  second.editor.dispose();
  model.dispose();
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(split, { recursive: true });
});
