// Edits m = 64…512 held-out world facts at once with a saved MALMEN/MEND checkpoint and prints
// ES/GS/LS and each edited layer's least-squares residual ‖KΔW − D‖/‖D‖ as JSON lines: how a
// meta-trained editor scales with m (e.g. one meta-trained on the GPU machine, bench/gpu.sh).
// Usage: deno run -A bench/experiments/world_sweep.ts --editor DIR [--lm runs/demo/lm] [--m 64,128,256,512]
//        [--passes N]
import { parseArgs } from "node:util";
import { initWebGpu } from "../../engine/backend.ts";
import { HyperEditor } from "../../malmen/editors/hyper.ts";
import { revertShifts } from "../../malmen/editors/journal.ts";
import { loadLmRun } from "../../malmen/lm/load.ts";
import { bestCheckpoint, latestCheckpoint } from "../../malmen/lm/run_dir.ts";
import { editAndScore, worldSetup } from "../../malmen/workflows.ts";
import { toRequests } from "../../malmen/eval/requests.ts";

const USAGE =
  "Usage: deno run -A bench/experiments/world_sweep.ts --editor RUN_DIR|CHECKPOINT_DIR " +
  "[--lm runs/demo/lm] [--m 64,128,256,512] [--passes N]";
const { values: v } = parseArgs({
  args: Deno.args,
  options: {
    editor: { type: "string" },
    lm: { type: "string", default: "runs/demo/lm" },
    m: { type: "string", default: "64,128,256,512" },
    passes: { type: "string", default: "1" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (v.help || v.editor === undefined) {
  console.log(USAGE);
  Deno.exit(v.help ? 0 : 2);
}
const gpu = await initWebGpu();
const setup = await worldSetup();
const { model, tokenizer } = await loadLmRun(v.lm, gpu);
const edits = toRequests(tokenizer, setup.world.edit, model.config.nCtx);
// A run directory resolves to its best checkpoint (else its latest); a checkpoint is used as is.
const picked = (await bestCheckpoint(v.editor)) ?? (await latestCheckpoint(v.editor));
const folder = picked?.folder ?? v.editor;
const editor = await HyperEditor.load(folder, model);
editor.measureFit = true;
editor.editPasses = Number(v.passes);
const r4 = (x: number): number => Math.round(x * 10000) / 10000;
for (const m of v.m.split(",").map(Number)) {
  if (!(m > 0 && m <= edits.length)) {
    throw new RangeError(`--m "${m}" must be in 1..${edits.length} (held-out world facts)`);
  }
  const requests = edits.slice(0, m);
  const o = await editAndScore(model, editor, requests, false);
  revertShifts(model);
  for (const t of o.shifts.values()) t.dispose();
  console.log(JSON.stringify({
    bench: "world_sweep",
    editor: editor.name,
    checkpoint: folder,
    m,
    passes: editor.editPasses,
    rows: requests.reduce((a, r) => a + r.edit.answer.length, 0),
    residual: editor.lastFit?.map(r4) ?? null,
    es: r4(o.after.es),
    gs: r4(o.after.gs),
    ls: r4(o.after.ls),
    seconds: r4(o.seconds),
  }));
}
Deno.exit(0);
