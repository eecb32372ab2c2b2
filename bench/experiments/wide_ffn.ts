// Experiment: does a wider FFN (a larger key width d_in of the edited `mlp.c_proj`) let one
// MALMEN shift place more facts? Trains the world LM with `dInner` (its own run folder), meta-trains
// MALMEN on it, and edits m = 64…512 held-out facts at once, printing ES/GS/LS and each layer's
// least-squares residual ‖KΔW − D‖/‖D‖ as JSON lines.
// Usage: deno run -A bench/experiments/wide_ffn.ts [--d-inner 2048] [--lm-minutes 12] [--meta-minutes 12]
//        [--n-edits 384] [--editor malmen|mend]
import { parseArgs } from "node:util";
import { initWebGpu } from "../../engine/backend.ts";
import { encodeFact } from "../../malmen/lm/corpus.ts";
import { meanAccuracy } from "../../malmen/lm/evaluate.ts";
import { revertShifts } from "../../malmen/editors/journal.ts";
import { editAndScore } from "../../malmen/workflows.ts";
import { worldRuns } from "../world_runs.ts";

const { values: v } = parseArgs({
  args: Deno.args,
  options: {
    "d-inner": { type: "string", default: "2048" },
    "lm-minutes": { type: "string", default: "12" },
    "meta-minutes": { type: "string", default: "12" },
    "n-edits": { type: "string", default: "384" },
    editor: { type: "string", default: "malmen" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (v.help) {
  console.log(
    "Usage: deno run -A bench/experiments/wide_ffn.ts [--d-inner N] [--lm-minutes N] " +
      "[--meta-minutes N] [--n-edits N] [--editor malmen|mend]",
  );
  Deno.exit(0);
}
const dInner = Number(v["d-inner"]);
const gpu = await initWebGpu();
const log = (m: string): void => console.error(`[wide_ffn] ${m}`);
const runs = await worldRuns(
  gpu,
  log,
  { lm: Number(v["lm-minutes"]), meta: Number(v["meta-minutes"]) },
  { dir: `runs/world-d${dInner}`, model: { dInner }, nEdits: Number(v["n-edits"]) },
);
const facts = runs.setup.corpus.facts.map((f) => encodeFact(runs.tokenizer, f));
console.log(JSON.stringify({
  bench: "wide_ffn",
  d_inner: runs.model.config.dInner,
  lm_answer_acc: Math.round((await meanAccuracy(runs.model, facts)) * 10000) / 10000,
}));
const editor = await runs.editor(v.editor as "malmen" | "mend");
editor.measureFit = true;
for (const m of [64, 128, 256, 512]) {
  const requests = runs.edits.slice(0, m);
  const o = await editAndScore(runs.model, editor, requests, false);
  revertShifts(runs.model);
  for (const t of o.shifts.values()) t.dispose();
  const r4 = (x: number): number => Math.round(x * 10000) / 10000;
  console.log(JSON.stringify({
    bench: "wide_ffn",
    editor: editor.name,
    d_inner: dInner,
    m,
    rows: requests.reduce((a, r) => a + r.edit.answer.length, 0),
    residual: editor.lastFit?.map(r4) ?? null,
    es: r4(o.after.es),
    gs: r4(o.after.gs),
    ls: r4(o.after.ls),
  }));
}
Deno.exit(0);
