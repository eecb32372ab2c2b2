// Editors know the LM and the facts they were made from: using one with another LM, or resuming
// or reusing a run with other facts, is refused by name; meta-training stops on a NaN meta-loss
// naming the step; an edit with NaN shifts is never applied.
import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { AdamW } from "../../../engine/nn/adamw.ts";
import { NonFiniteError } from "../../../engine/nn/finite.ts";
import { getShift } from "../../../malmen/algorithm/shifts.ts";
import { defaultEditorConfig, type Editor } from "../../../malmen/editors/editor.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import { trainEditor } from "../../../malmen/editors/train_editor.ts";
import { editAndScore } from "../../../malmen/eval/edit_and_score.ts";
import type { EditRequest } from "../../../malmen/eval/requests.ts";
import { ProvenanceError, setIdentity } from "../../../malmen/lm/identity.ts";
import { latestCheckpoint, OtherDataError } from "../../../malmen/lm/run_dir.ts";
import { editorRun } from "../../../malmen/workflows/runs.ts";
import { frozenLm } from "../_lm.ts";
import { randomRequests } from "../_requests.ts";

const V = 19;
const LM_A = `sha256:${"a1".repeat(32)}`;
const LM_B = `sha256:${"b2".repeat(32)}`;
const config = { ...defaultEditorConfig(2), lmBatch: 4, rank: 4, etaInit: 0.3 };
const options = (outDir: string) => ({
  outDir,
  editor: "malmen" as const,
  config,
  nEdits: 4,
  steps: 4,
  valEvery: 2,
  valEdits: 4,
  metaLr: 1e-2,
});

function split(seed: number): { train: EditRequest[]; val: EditRequest[] } {
  const reqs = randomRequests(12, V, seed);
  return { train: reqs.slice(0, 8), val: reqs.slice(8) };
}

Deno.test("an editor records its LM and is refused for another one unless forced", async () => {
  const lm = frozenLm(V);
  setIdentity(lm, LM_A);
  const dir = await Deno.makeTempDir();
  const editor = new HyperEditor("malmen", lm, config);
  await editor.save(dir);
  deepStrictEqual(await HyperEditor.madeFor(dir), LM_A);
  setIdentity(lm, LM_B);
  // The message's wording is checked in identity_test.ts; here, that both LMs are named.
  await rejects(
    () => HyperEditor.load(dir, lm),
    (e: Error) =>
      e instanceof ProvenanceError &&
      e.message.startsWith(
        `The editor in "${dir}" was made for the LM a1a1a1a1a1a1, but the LM in use is b2b2b2b2b2b2:`,
      ),
  );
  const forced = await HyperEditor.load(dir, lm, { force: true });
  for (const e of [editor, forced]) e.dispose();
  lm.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`trainEditor()` refuses to resume on another LM or other facts; `editorRun()` to reuse on other facts", async () => {
  const lm = frozenLm(V);
  setIdentity(lm, LM_A);
  const dir = await Deno.makeTempDir();
  const { train, val } = split(3);
  const first = await trainEditor(lm, train, val, options(dir));
  first.editor.dispose();
  setIdentity(lm, LM_B);
  await rejects(
    () => trainEditor(lm, train, val, { ...options(dir), steps: 6, resume: true }),
    new RegExp(`^ProvenanceError: The editor run in "${dir}" was made for the LM a1a1a1a1a1a1`),
  );
  setIdentity(lm, LM_A);
  const other = split(4);
  await rejects(
    () => trainEditor(lm, other.train, other.val, { ...options(dir), steps: 6, resume: true }),
    OtherDataError,
  );
  // A finished run is reused only for its own facts.
  const run = await editorRun(lm, train, val, options(dir));
  run.editor.dispose();
  await rejects(() => editorRun(lm, other.train, other.val, options(dir)), OtherDataError);
  lm.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a NaN meta-loss stops `trainEditor()` naming the step; the last checkpoint stays", async () => {
  const lm = frozenLm(V);
  const dir = await Deno.makeTempDir();
  const { train, val } = split(5);
  const original = AdamW.prototype.step;
  let steps = 0;
  // The third update writes NaN into the hyper-network, as a diverging one does.
  AdamW.prototype.step = function (this: AdamW): void {
    original.call(this);
    if (++steps === 3) this.arena.segments[0].param.storage.array!.fill(NaN);
  };
  try {
    await rejects(() => trainEditor(lm, train, val, { ...options(dir), steps: 8 }), (e: Error) => {
      ok(e instanceof NonFiniteError, String(e));
      ok(/^Meta-training diverged (at|by) step [34][ :(]/.test(e.message), e.message);
      ok(e.message.includes(`the last checkpoint in "${dir}" (step 2) stays`), e.message);
      return true;
    });
  } finally {
    AdamW.prototype.step = original;
  }
  deepStrictEqual((await latestCheckpoint(dir))?.step, 2);
  const loaded = await HyperEditor.load((await latestCheckpoint(dir))!.folder, lm);
  loaded.dispose();
  lm.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`editAndScore()` refuses non-finite shifts and applies nothing", async () => {
  const lm = frozenLm(V);
  const reqs = randomRequests(3, V, 6);
  const shift = new Float64Array(32 * 8);
  shift[17] = NaN;
  const bad: Editor = {
    name: "broken",
    config: defaultEditorConfig(2),
    computeShifts: () => Promise.resolve(new Map([[1, tensor(shift, [32, 8], { backend: CPU })]])),
  };
  await rejects(() => editAndScore(lm, bad, reqs), (e: Error) => {
    ok(e instanceof NonFiniteError);
    deepStrictEqual(
      e.message,
      "The broken edit produced non-finite shifts (did the editor or the LM diverge?): the " +
        "shift of layer 1 has 1 of 256 values non-finite (NaN at index 17)",
    );
    return true;
  });
  deepStrictEqual(getShift(lm, 1), null);
  lm.dispose();
});
