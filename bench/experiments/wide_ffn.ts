// Experiment: does a wider FFN (a larger key width d_in of the edited `mlp.c_proj`) let one
// MALMEN shift place more facts? Trains the world LM with `dInner` (its own run folder),
// meta-trains MALMEN on it, and edits m = 64…512 held-out facts at once, printing ES/GS/LS and
// each layer's least-squares residual ‖KΔW − D‖/‖D‖ as JSON lines. Runs are reused and
// resumed (Ctrl-C stops after the current step).
import { parseArgs } from "node:util";
import { scoreEdit } from "../../malmen/eval/edit_and_score.ts";
import { encodeFact } from "../../malmen/lm/corpus.ts";
import { meanAccuracy } from "../../malmen/lm/evaluate.ts";
import { worldRuns } from "../../malmen/workflows/world.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  int,
  num,
  oneOf,
  pickBackend,
  r4,
  RANGES,
  runCli,
  stopOnSigint,
} from "../../examples/_cli/mod.ts";

const HELP = `Usage: deno run -A bench/experiments/wide_ffn.ts [options]

Options:
  --d-inner N        FFN width (default 2048); runs live in runs/world-d<N>/
  --lm-minutes X     LM budget (default 12)
  --meta-minutes X   meta-training budget (default 12)
  --n-edits N        facts per meta-step (default 384)
  --editor NAME      malmen (default) or mend
${COMMON_HELP}`;

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      "d-inner": { type: "string", default: "2048" },
      "lm-minutes": { type: "string", default: "12" },
      "meta-minutes": { type: "string", default: "12" },
      "n-edits": { type: "string", default: "384" },
      editor: { type: "string", default: "malmen" },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  const dInner = int("d-inner", v["d-inner"], 2048, 1, 1 << 20);
  const name = oneOf("editor", v.editor!, ["malmen", "mend"] as const);
  const budget = {
    lmMinutes: num("lm-minutes", v["lm-minutes"], 12, RANGES.positive),
    metaMinutes: num("meta-minutes", v["meta-minutes"], 12, RANGES.positive),
    nEdits: int("n-edits", v["n-edits"], 384),
  };
  const backend = await pickBackend(v.backend);
  const stop = stopOnSigint();
  const log = (m: string): void => console.error(`[wide_ffn] ${m}`);
  const runs = await worldRuns({
    dir: `runs/world-d${dInner}`,
    backend,
    model: { dInner },
    budget,
    stop,
    log,
  });
  if (runs.lm.interrupted) return log("stopped; rerun to resume");
  const facts = runs.setup.corpus.facts.map((f) => encodeFact(runs.tokenizer, f));
  console.log(JSON.stringify({
    bench: "wide_ffn",
    d_inner: runs.model.config.dInner,
    lm_answer_acc: r4(await meanAccuracy(runs.model, facts)),
  }));
  const { editor, interrupted } = await runs.editor(name);
  if (interrupted) return log("stopped; rerun to resume");
  editor.measureFit = true;
  for (const m of [64, 128, 256, 512]) {
    if (stop.requested) break;
    const requests = runs.edits.slice(0, m);
    const o = await scoreEdit(runs.model, editor, requests, false);
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
  editor.dispose();
  runs.model.dispose();
});
