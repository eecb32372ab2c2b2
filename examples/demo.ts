// `deno task demo`: the whole embedded-default pipeline on one machine — generate the synthetic
// world, train the language model, meta-train MALMEN and the MEND-sum baseline, edit held-out
// facts with MALMEN, MEND and fine-tuning, and print the report.
import { parseArgs } from "node:util";
import { Progress } from "./_cli/progress.ts";
import { linePlot } from "./_cli/svg.ts";
import { writeFileAtomic, writeJsonAtomic } from "../engine/io/atomic.ts";
import { defaultEditorConfig, type EditorConfig } from "../malmen/editors/editor.ts";
import { FtEditor } from "../malmen/editors/ft.ts";
import { revertShifts } from "../malmen/editors/journal.ts";
import { trainLm } from "../malmen/lm/train.ts";
import {
  DEMO_BUDGET,
  DEMO_WORLD,
  editAndScore,
  modelConfigFor,
  worldSetup,
} from "../malmen/workflows.ts";
import { type EditReport, editReport, markdownSummary } from "../malmen/eval/report.ts";
import { toRequests } from "../malmen/eval/requests.ts";
import { trainEditor } from "../malmen/editors/train_editor.ts";
import { COMMON_OPTIONS, num, pickBackend, runCli, stopOnSigint } from "./_cli/common.ts";

const HELP = `Usage: deno task demo [options]

Runs the whole pipeline on the embedded synthetic world: trains the GPT, meta-trains MALMEN and
the MEND-sum baseline, edits held-out facts (subjects never seen in meta-training, paraphrases in
held-out templates) with MALMEN, MEND and fine-tuning, and prints the report.

Options:
  --m N            facts edited at once (default 512)
  --out DIR        output folder (default runs/demo)
  --lm-minutes X   language-model time budget (default 8; stops early at 99.5% accuracy)
  --meta-minutes X meta-training budget per editor (default 2)
  --quick          a small world and short budgets (smoke test, ~2 minutes)
  --json           print one JSON line per editor at the end
  --backend webgpu|cpu
  --help`;

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      m: { type: "string" },
      out: { type: "string", default: "runs/demo" },
      "lm-minutes": { type: "string" },
      "meta-minutes": { type: "string" },
      quick: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) {
    console.log(HELP);
    return;
  }
  const t0 = performance.now();
  const backend = await pickBackend(v.backend);
  const stop = stopOnSigint();
  const out = v.out!;
  const quick = v.quick;
  const world = quick
    ? { seed: 1, people: 40, countries: 4, citiesPerCountry: 2, companies: 8 }
    : DEMO_WORLD;
  const { world: w, corpus, tokenizer } = await worldSetup(world);
  const m = Math.min(num("m", v.m, quick ? 32 : 512), w.edit.length);
  log(
    `World: ${w.facts.length} facts, ${corpus.training.length} training texts, vocabulary ${tokenizer.vocabSize}; editing ${m} held-out facts.`,
  );

  // 1. Language model.
  const config = modelConfigFor(tokenizer, quick ? { dModel: 64, nLayer: 2, nHead: 2 } : {});
  // Training phases are time-bounded, so their bars count seconds of the budget.
  const lmSeconds = num("lm-minutes", v["lm-minutes"], quick ? 0.75 : DEMO_BUDGET.lmMinutes) * 60;
  const lmBar = new Progress({
    label: "1/3 language model",
    total: Math.round(lmSeconds),
    unit: "s",
  });
  const lmStart = performance.now();
  const lm = await trainLm(corpus, tokenizer, {
    outDir: `${out}/lm`,
    config,
    backend,
    maxSeconds: lmSeconds,
    stop,
    onStep: (i) => {
      lmBar.update(
        (performance.now() - lmStart) / 1000,
        `step ${i.step} loss ${i.loss.toFixed(3)}${
          Number.isNaN(i.accuracy) ? "" : ` acc ${pct(i.accuracy)}`
        }`,
      );
    },
  });
  lmBar.finish(`answer acc ${pct(lm.answerAcc)}, paraphrase acc ${pct(lm.paraphraseAcc)}`);
  await writeFileAtomic(
    `${out}/lm/loss.svg`,
    linePlot([{ name: "loss", points: lm.history.map((h) => [h.step, h.loss] as const) }], {
      title: "Language-model training loss",
      xLabel: "step",
      yLabel: "cross-entropy",
    }),
  );
  const model = lm.model;
  model.setTrainable(false);

  // 2. Meta-train the two hyper-network editors on the train split, validate on val.
  const train = toRequests(tokenizer, w.train, model.config.nCtx);
  const val = toRequests(tokenizer, w.val, model.config.nCtx);
  const edits = toRequests(tokenizer, w.edit.slice(0, m), model.config.nCtx);
  const editorConfig: EditorConfig = {
    ...defaultEditorConfig(model.config.nLayer),
    ...(quick ? { rank: 64 } : {}),
  };
  const nEdits = Math.min(quick ? 16 : DEMO_BUDGET.nEdits, train.length);
  const metaSeconds =
    num("meta-minutes", v["meta-minutes"], quick ? 0.5 : DEMO_BUDGET.metaMinutes) * 60;
  const editors = [];
  for (const name of ["malmen", "mend"] as const) {
    const bar = new Progress({
      label: `2/3 meta-train ${name}`,
      total: Math.round(metaSeconds),
      unit: "s",
    });
    const metaStart = performance.now();
    const r = await trainEditor(model, train, val, {
      outDir: `${out}/${name}`,
      editor: name,
      config: editorConfig,
      nEdits,
      steps: 10_000,
      valEvery: DEMO_BUDGET.valEvery,
      metaLr: DEMO_BUDGET.metaLr,
      valEdits: Math.min(val.length, nEdits),
      maxSeconds: metaSeconds,
      stop,
      onStep: (i) =>
        bar.update(
          (performance.now() - metaStart) / 1000,
          `step ${i.step} meta-loss ${i.loss.toFixed(3)}${
            i.val ? ` val ES ${pct(i.val.es)} GS ${pct(i.val.gs)} LS ${pct(i.val.ls)}` : ""
          }`,
        ),
    });
    bar.finish(`val ES ${pct(r.val.es)} GS ${pct(r.val.gs)} LS ${pct(r.val.ls)}`);
    editors.push(r.editor);
  }

  // 3. Edit m held-out facts at once with each editor, from the unedited model.
  const reports: EditReport[] = [];
  for (const editor of [...editors, new FtEditor(editorConfig)]) {
    log(`3/3 editing ${m} facts with ${editor.name}...`);
    const outcome = await editAndScore(model, editor, edits);
    reports.push(editReport(outcome, edits));
    revertShifts(model);
    for (const t of outcome.shifts.values()) t.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const md = `# Demo report\n\nSynthetic world: ${w.facts.length} facts; LM answer accuracy ${
    pct(lm.answerAcc)
  } (paraphrases ${pct(lm.paraphraseAcc)}); ${m} held-out facts edited at once. Total time ${
    seconds.toFixed(0)
  } s.\n\n${markdownSummary(reports)}\n`;
  await writeFileAtomic(`${out}/report.md`, md);
  await writeJsonAtomic(`${out}/report.json`, {
    seconds,
    lm: { answer_acc: lm.answerAcc, paraphrase_acc: lm.paraphraseAcc },
    edits: reports,
  });
  console.log(`\n${md}\nReports written to ${out}/report.md and ${out}/report.json.`);
  if (v.json) {
    for (const r of reports) {
      console.log(
        JSON.stringify({
          editor: r.editor,
          m: r.m,
          es: r.after.es,
          gs: r.after.gs,
          ls: r.after.ls,
          seconds: r.seconds,
        }),
      );
    }
  }
  for (const e of editors) e.dispose();
  model.dispose();
});

function log(message: string): void {
  console.error(message);
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
