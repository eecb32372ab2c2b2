// `deno task demo`: the whole embedded-default pipeline on one machine — generate the synthetic
// world, train the language model, meta-train MALMEN and the MEND-sum baseline (each used at
// its checkpoint chosen on the validation split), set up MEMIT (key statistics, settings chosen
// on the validation split), edit held-out facts with MALMEN, MEND, fine-tuning and MEMIT, and
// print the report.
import { parseArgs } from "node:util";
import { removeStaleTemps, writeFileAtomic, writeJsonAtomic } from "../engine/io/atomic.ts";
import { scoreEdit } from "../malmen/eval/edit_and_score.ts";
import { type EditReport, editReport, markdownSummary } from "../malmen/eval/report.ts";
import { defaultEditorConfig } from "../malmen/editors/editor.ts";
import { editorRunBytes, lmRunBytes, memitBytes } from "../malmen/workflows/footprint.ts";
import {
  DEFAULT_WORLD,
  WORLD_BUDGET,
  WORLD_MODEL,
  worldMalmenSettings,
} from "../malmen/workflows/settings.ts";
import { gptConfig } from "../engine/models/gpt/config.ts";
import { worldRuns } from "../malmen/workflows/world.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  int,
  linePlot,
  lmStepText,
  num,
  pct,
  pickBackend,
  Progress,
  RANGES,
  requireOutput,
  runCli,
  scoreLine,
  stopOnSigint,
} from "./_cli/mod.ts";

const HELP = `Usage: deno task demo [options]

Runs the whole pipeline on the embedded synthetic world: trains the GPT, meta-trains MALMEN and
the MEND-sum baseline (each used at its checkpoint chosen on the validation split), sets up
MEMIT (key statistics over the LM's training texts, settings chosen on the validation split),
edits held-out facts (subjects never seen in meta-training, paraphrases in held-out templates)
with MALMEN, MEND, fine-tuning and MEMIT, and prints the report.

The budgets are counted in steps and every run is seeded, so the result does not depend on
machine load; the minutes are safety caps, and the report says if one was hit.

Options:
  --m N            facts edited at once (default 512)
  --seed N         world seed (default ${DEFAULT_WORLD.seed ?? 1}): another seed draws other people,
                   facts, templates and splits
  --out DIR        output folder (default runs/demo): lm/, malmen/, mend/, memit/, report.{md,json},
                   edits.json (the edited facts, an input for deno task edit)
  --lm-epochs N    language-model epochs (default ${WORLD_BUDGET.lmEpochs}; stops early at 99.5% accuracy)
  --meta-steps N   meta-training steps per editor (default ${WORLD_BUDGET.metaSteps}, ${WORLD_BUDGET.nEdits} facts each)
  --lm-minutes X   language-model time cap (default ${WORLD_BUDGET.lmMinutes})
  --meta-minutes X meta-training time cap per editor (default ${WORLD_BUDGET.metaMinutes})
  --quick          a small world and short budgets (smoke test, ~2 minutes)
  --resume         reuse the finished runs in --out and resume interrupted ones (default:
                   train everything afresh)
  --json           print one JSON line per editor at the end (es, gs, ls, efficacy,
                   paraphrase, neighborhood, score, seconds)
${COMMON_HELP}

Ctrl-C stops after the current step; --resume continues from there.`;

// The smoke-test world and model of --quick.
const QUICK = {
  world: { seed: 1, people: 40, countries: 4, citiesPerCountry: 2, companies: 8 },
  model: { dModel: 64, nLayer: 2, nHead: 2 },
};

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      m: { type: "string" },
      seed: { type: "string" },
      "lm-epochs": { type: "string" },
      "meta-steps": { type: "string" },
      out: { type: "string", default: "runs/demo" },
      "lm-minutes": { type: "string" },
      "meta-minutes": { type: "string" },
      quick: { type: "boolean", default: false },
      resume: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  const t0 = performance.now();
  const quick = v.quick;
  const mWanted = int("m", v.m, quick ? 32 : 512);
  const seed = int("seed", v.seed, DEFAULT_WORLD.seed ?? 1, 0, RANGES.seed.max);
  const lmEpochs = int("lm-epochs", v["lm-epochs"], quick ? 40 : WORLD_BUDGET.lmEpochs);
  const metaSteps = int("meta-steps", v["meta-steps"], quick ? 10 : WORLD_BUDGET.metaSteps);
  const lmMinutes = num(
    "lm-minutes",
    v["lm-minutes"],
    quick ? 0.75 : WORLD_BUDGET.lmMinutes,
    RANGES.positive,
  );
  const metaMinutes = num(
    "meta-minutes",
    v["meta-minutes"],
    quick ? 0.5 : WORLD_BUDGET.metaMinutes,
    RANGES.positive,
  );
  const out = v.out!;
  // The backend is checked before anything is written (requireOutput creates the folder).
  const backend = await pickBackend(v.backend);
  await requireOutput("out", out, demoBytes(quick), "the runs and reports");
  await removeStaleTemps(out);
  const stop = stopOnSigint();
  // Step-counted bars: the budgets are steps, the minutes only caps.
  const bars = new Map<string, Progress>();
  const bar = (key: string, label: string, total: number, done: number, info: string) => {
    if (!bars.has(key)) bars.set(key, new Progress({ label, total }));
    bars.get(key)!.setTotal(total);
    bars.get(key)!.update(done, info);
  };
  const world = { ...(quick ? QUICK.world : DEFAULT_WORLD), seed };
  const runs = await worldRuns({
    dir: out,
    backend,
    world,
    model: quick ? QUICK.model : {},
    editor: quick ? { rank: 64 } : {},
    budget: {
      lmEpochs,
      lmMinutes,
      metaSteps,
      metaMinutes,
      nEdits: quick ? 16 : WORLD_BUDGET.nEdits,
    },
    retrain: !v.resume,
    stop,
    log,
    onLmStep: (i) => bar("lm", "1/3 language model", i.total, i.step, lmStepText(i, true)),
    onEditorStep: (name, i) =>
      bar(
        name,
        `2/3 meta-train ${name}`,
        i.total,
        i.step,
        `meta-loss ${i.loss.toFixed(3)}${
          i.val ? ` val ES ${pct(i.val.es)} GS ${pct(i.val.gs)} LS ${pct(i.val.ls)}` : ""
        }`,
      ),
  });
  // What stopped each training: its step budget, its target, or a time cap (named in the report).
  const caps: string[] = [];
  const { model, lm, setup } = runs;
  if (lm.interrupted || lm.done === null) return stopped(out);
  bars.get("lm")?.finish(
    `answer acc ${pct(lm.done.answerAcc)}, paraphrase acc ${pct(lm.done.paraphraseAcc)}`,
  );
  if (lm.done.seconds >= lmMinutes * 60) {
    caps.push(`the language model hit its ${lmMinutes}-minute cap at step ${lm.done.steps}`);
  }
  await writeFileAtomic(
    `${out}/lm/loss.svg`,
    linePlot([{ name: "loss", points: lm.history.map((h) => [h.step, h.loss] as const) }], {
      title: "Language-model training loss",
      xLabel: "step",
      yLabel: "cross-entropy",
    }),
  );
  const m = Math.min(mWanted, runs.edits.length);
  const edits = runs.edits.slice(0, m);
  // The edited facts as an input file for `deno task edit`.
  await writeJsonAtomic(`${out}/edits.json`, edits.map((r) => r.record));
  log(
    `World: ${setup.world.facts.length} facts, ${setup.corpus.training.length} training texts, vocabulary ${setup.tokenizer.vocabSize}; editing ${m} held-out facts.`,
  );

  // Meta-train the two hyper-network editors on the train split; select on val.
  const editors = [];
  for (const name of ["malmen", "mend"] as const) {
    const r = await runs.editor(name);
    editors.push(r.editor);
    if (r.interrupted) return stopped(out);
    const { trainedSteps, seconds: metaSeconds } = r.provenance;
    if (trainedSteps < metaSteps && metaSeconds >= metaMinutes * 60) {
      caps.push(
        `${name} hit its ${metaMinutes}-minute cap after ${trainedSteps} of ${metaSteps} steps`,
      );
    }
    const val = r.provenance.val;
    bars.get(name)?.finish(
      `checkpoint of step ${r.provenance.step}` +
        (val ? `: val ES ${pct(val.es)} GS ${pct(val.gs)} LS ${pct(val.ls)}` : ""),
    );
  }

  log("setting up MEMIT (key statistics, settings chosen on the validation split)...");
  const memit = await runs.memit();
  log("choosing FT's edited blocks on the validation split...");
  const ft = await runs.ft();

  // Edit m held-out facts at once with each editor, from the unedited model.
  const reports: EditReport[] = [];
  for (const editor of [...editors, ft.editor, memit.editor]) {
    log(`3/3 editing ${m} facts with ${editor.name}...`);
    reports.push(editReport(await scoreEdit(model, editor, edits), edits));
  }
  const seconds = (performance.now() - t0) / 1000;
  const budgets = caps.length === 0
    ? `Every training ran to its step budget or target (no time cap hit).`
    : `Time caps hit: ${caps.join("; ")}.`;
  const md =
    `# Demo report\n\nSynthetic world (seed ${seed}): ${setup.world.facts.length} facts; ` +
    `LM answer accuracy ${pct(lm.done.answerAcc)} (paraphrases ${
      pct(lm.done.paraphraseAcc)
    }) after ${lm.done.steps} steps; ${m} held-out facts edited at once; FT edits blocks ${
      ft.editor.config.layers.join(", ")
    } (chosen on the validation split). ${budgets} Total time ${seconds.toFixed(0)} s.\n\n${
      markdownSummary(reports)
    }\n`;
  await writeFileAtomic(`${out}/report.md`, md);
  await writeJsonAtomic(`${out}/report.json`, {
    seconds,
    seed,
    caps_hit: caps,
    ft_choice: ft.grid,
    lm: {
      answer_acc: lm.done.answerAcc,
      paraphrase_acc: lm.done.paraphraseAcc,
      steps: lm.done.steps,
    },
    edits: reports,
  });
  console.log(`\n${md}\nReports written to ${out}/report.md and ${out}/report.json.`);
  if (v.json) {
    for (const r of reports) console.log(JSON.stringify({ ...scoreLine(r), seed }));
  }
  for (const e of [...editors, memit.editor]) e.dispose();
  model.dispose();
});

// What the demo writes, with the GPT-2 vocabulary as an upper bound of the compact one.
function demoBytes(quick: boolean): number {
  const model = quick ? QUICK.model : {};
  const config = gptConfig("tiny", { ...WORLD_MODEL, vocabSize: 50257, ...model });
  const editor = {
    ...defaultEditorConfig(config.nLayer),
    ...worldMalmenSettings(config.nLayer),
    ...(quick ? { rank: 64 } : {}),
  };
  return lmRunBytes(config) + 2 * editorRunBytes(config, editor) + memitBytes(config);
}

function log(message: string): void {
  console.error(message);
}

function stopped(out: string): void {
  console.error(`Stopped. Continue with: deno task demo --resume --out ${out}`);
}
