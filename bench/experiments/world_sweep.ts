// Edits m = 64…512 held-out world facts at once with a saved MALMEN/MEND editor and prints
// ES/GS/LS and each edited layer's least-squares residual ‖KΔW − D‖/‖D‖ as JSON lines: how a
// meta-trained editor scales with m (e.g. one meta-trained on the GPU machine, bench/gpu.sh).
import { parseArgs } from "node:util";
import { scoreEdit } from "../../malmen/eval/edit_and_score.ts";
import { toRequests } from "../../malmen/eval/requests.ts";
import { loadLmRun } from "../../malmen/lm/load.ts";
import { loadEditorRun } from "../../malmen/workflows/runs.ts";
import { worldSetup } from "../../malmen/workflows/setup.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  int,
  intList,
  pickBackend,
  r4,
  runCli,
  stopOnSigint,
  UsageError,
} from "../../examples/_cli/mod.ts";

const HELP = `Usage: deno run -A bench/experiments/world_sweep.ts --editor DIR [options]

Options:
  --editor DIR     an editor run (used at its checkpoint chosen on validation) or a checkpoint
  --lm DIR         the LM run it edits (default runs/demo/lm)
  --m LIST         edit counts (default 64,128,256,512)
  --passes N       edit passes (default 1)
${COMMON_HELP}`;

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      editor: { type: "string" },
      lm: { type: "string", default: "runs/demo/lm" },
      m: { type: "string", default: "64,128,256,512" },
      passes: { type: "string", default: "1" },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  if (v.editor === undefined) throw new UsageError("--editor DIR is required (see --help)");
  const ms = intList("m", v.m!);
  const passes = int("passes", v.passes, 1);
  const backend = await pickBackend(v.backend);
  const stop = stopOnSigint("Stopping after the current edit count...");
  const setup = await worldSetup();
  const { model, tokenizer } = await loadLmRun(v.lm!, backend);
  const edits = toRequests(tokenizer, setup.world.edit, model.config.nCtx);
  const bad = ms.find((m) => m > edits.length);
  if (bad !== undefined) {
    throw new UsageError(`--m "${bad}" must be in 1..${edits.length} (held-out world facts)`);
  }
  const { editor, provenance } = await loadEditorRun(v.editor, model);
  editor.measureFit = true;
  editor.editPasses = passes;
  for (const m of ms) {
    if (stop.requested) break;
    const requests = edits.slice(0, m);
    const o = await scoreEdit(model, editor, requests, false);
    console.log(JSON.stringify({
      bench: "world_sweep",
      editor: editor.name,
      checkpoint_step: provenance.step,
      m,
      passes,
      rows: requests.reduce((a, r) => a + r.edit.answer.length, 0),
      residual: editor.lastFit?.map(r4) ?? null,
      es: r4(o.after.es),
      gs: r4(o.after.gs),
      ls: r4(o.after.ls),
      seconds: r4(o.seconds),
    }));
  }
  editor.dispose();
  model.dispose();
});
