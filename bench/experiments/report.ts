// `deno task report`: the CounterFact experiment end to end — base LM on the true facts,
// MALMEN and MEND-sum meta-trained on the train split, every selection on the val split, edits
// of m facts at once on the held-out edit split — written as JSON rows, a Markdown table and a
// self-contained HTML report with SVG plots. Trained runs and measured rows are reused, so an
// interrupted run (Ctrl-C stops after the current step) continues where it stopped.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Backend } from "../../engine/backend.ts";
import { removeStaleTemps, writeFileAtomic, writeJsonAtomic } from "../../engine/io/atomic.ts";
import type { Editor } from "../../malmen/editors/editor.ts";
import { encodeFact } from "../../malmen/lm/corpus.ts";
import { meanAccuracy } from "../../malmen/lm/evaluate.ts";
import { runPath } from "../../malmen/lm/run_dir.ts";
import { lmSourceLabel } from "../../malmen/lm/source.ts";
import { gptConfig } from "../../engine/models/gpt/config.ts";
import { defaultEditorConfig } from "../../malmen/editors/editor.ts";
import { editorRunBytes, lmRunBytes, memitBytes } from "../../malmen/workflows/footprint.ts";
import type { EditorProvenance } from "../../malmen/workflows/runs.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  dataFlag,
  int,
  intList,
  lmFlag,
  num,
  pickBackend,
  Progress,
  RANGES,
  requireLmRun,
  requireOutput,
  runCli,
  stopOnSigint,
  UsageError,
} from "../../examples/_cli/mod.ts";
import { type ExperimentPlan, FULL_PLAN, QUICK_PLAN } from "./counterfact/plan.ts";
import {
  counterFactRuns,
  ftEditor,
  hyperEditor,
  loadSplits,
  memitEditor,
  type RunControl,
} from "./counterfact/runs.ts";
import {
  checkResultsDir,
  checkRunsData,
  recordResultsData,
  recordRunsData,
  splitsHash,
} from "./counterfact/provenance.ts";
import { htmlReport, markdownReport, type ReportSetup } from "./counterfact/render.ts";
import { readFits, readRows, type ResultRow, runSweep } from "./counterfact/sweep.ts";

const HELP = `Usage: deno task report [--quick] [--data DATA] [--m 16,64,...] [--lm DIR] [budgets]
                         [--render-only] [--json]

Runs the CounterFact knowledge-editing experiment and writes its report:
  1. trains the base GPT on the true facts of all 21,919 CounterFact cases (or reuses it, or
     uses the one named by --lm),
  2. meta-trains MALMEN and MEND-sum on the train split, keeping the checkpoint that is best on
     the val split, picks the fine-tuning learning rate on the val split, and sets up MEMIT
     (key covariances over the LM's training texts, settings chosen on the val split),
  3. edits the first m facts of the (shuffled) held-out edit split at once with each editor, for
     every m, and scores ES / GS / LS and CounterFact efficacy / paraphrase / neighbourhood,
  4. writes <results>/counterfact.json (rows), counterfact.md and counterfact.html.

Reads CounterFact from $MALMEN_DATA, ../shared/data-raw or the cache of deno task data fetch.
Runs live in runs/cf/ (runs/cf-quick/ with --quick) and are reused; measured rows are saved
after each edit, so rerunning resumes. Before any training the data is checked against what the
folders record (data.json): the runs folder names the --data its runs were trained on (one
without a record holds CounterFact runs), and each trained run and the results folder record the
hash of their records. Runs of other data are never reused, and a results folder holding results
of other data is never written over.

Options:
  --quick         a tiny model on a few hundred records, minutes in all (CI smoke run);
                  results go to runs/cf-quick/results/ instead of bench/experiments/results/
  --data DATA     other records than CounterFact: zsre, a JSON/JSONL file of flattened
                  CounterFact or ROME zsRE records (split 45/10/45 by a fixed shuffle), or a
                  folder of train/val/edit files; name a --runs and a --results folder of
                  its own
  --m LIST        edit counts (default 16,64,256,1024,4096,8192; quick: 16,64)
  --lm DIR|hf:DIR use this language model instead of training <runs>/lm: a run of deno task
                  train (e.g. --data counterfact --out DIR) or a Hugging Face GPT-2 directory;
                  editor runs made for another LM are refused (name another --runs)
Budgets (defaults: the full plan's, see bench/experiments/counterfact/plan.ts):
  --d-model N --layers N --heads N   size of the language model trained in <runs>/lm
  --lm-epochs N   its epoch budget (default ${FULL_PLAN.lm.epochs})
  --lm-minutes X  its time limit, a safety cap (default ${FULL_PLAN.lm.minutes})
  --meta-steps N  meta-step budget per hyper-network editor (default ${FULL_PLAN.meta.steps}: in
                  effect until --meta-minutes)
  --meta-minutes X  meta-training time limit per editor, a safety cap (default ${FULL_PLAN.meta.minutes.malmen})
  --runs DIR      where trained runs and measured rows live (default runs/cf, runs/cf-quick)
  --results DIR   where the report goes (default bench/experiments/results, runs/cf-quick/results)
  --render-only   rewrite the Markdown and HTML from the saved rows and setup
  --json          print each result row as one JSON line on stdout
${COMMON_HELP}

Ctrl-C stops after the current training step or measurement; rerunning the same command resumes.
The full run takes a couple of hours on two CPU cores (see BENCHMARKS.md for the measured time).`;

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      m: { type: "string" },
      data: { type: "string" },
      runs: { type: "string" },
      results: { type: "string" },
      lm: { type: "string" },
      "d-model": { type: "string" },
      layers: { type: "string" },
      heads: { type: "string" },
      "lm-epochs": { type: "string" },
      "lm-minutes": { type: "string" },
      "meta-steps": { type: "string" },
      "meta-minutes": { type: "string" },
      "render-only": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  const plan = withBudgets(v.quick ? QUICK_PLAN : FULL_PLAN, v);
  if (v.data !== undefined) {
    plan.data = dataFlag(v.data, false) as ExperimentPlan["data"];
  }
  if (v.runs !== undefined) plan.runsDir = v.runs;
  if (v.results !== undefined) plan.resultsDir = v.results;
  const rowsPath = runPath(plan.runsDir, "rows.json");
  const setupPath = runPath(plan.runsDir, "setup.json");
  if (resolve(plan.resultsDir) === resolve(plan.runsDir)) {
    // Each keeps a data.json of its own: the runs' --data, the results' data hash.
    throw new UsageError("--results must name another folder than --runs");
  }
  if (v["render-only"]) {
    // The data hash is recorded beside the setup (older setups have none: unknown).
    const setup = JSON.parse(await Deno.readTextFile(setupPath)) as ReportSetup & {
      data?: string;
    };
    const hash = setup.data ?? null;
    await checkResultsDir(plan.resultsDir, hash);
    return await writeReport(plan, await readRows(rowsPath), {
      ...setup,
      fits: await readFits(rowsPath),
    }, hash);
  }
  // Everything that can be refused is checked before any training starts.
  if (plan.lmDir !== undefined) await requireLmRun("lm", lmFlag(plan.lmDir));
  const hash = await splitsHash(await loadSplits(plan));
  await checkRunsData(plan);
  await checkResultsDir(plan.resultsDir, hash);
  const backend = await pickBackend(v.backend);
  // Only now is anything written (the folders, the runs folder's record of its --data).
  await requireOutput("runs", plan.runsDir, planBytes(plan), "the trained runs");
  await requireOutput("results", plan.resultsDir, 16 << 20, "the report");
  await recordRunsData(plan);
  for (const dir of [plan.runsDir, plan.resultsDir]) await removeStaleTemps(dir);
  const control = { log, stop: stopOnSigint() };
  const rows = await run(plan, backend, control, hash);
  if (rows === null) return log("stopped; rerun the same command to resume");
  if (v.json) { for (const r of rows) console.log(JSON.stringify(r)); }
});

// The plan with the budgets and folders of the flags (each flag checked before any work).
function withBudgets(base: ExperimentPlan, v: Record<string, string | boolean | undefined>) {
  const flag = (name: string) => v[name] as string | undefined;
  const plan: ExperimentPlan = { ...base, lm: { ...base.lm }, meta: { ...base.meta } };
  if (flag("m") !== undefined) plan.ms = intList("m", flag("m")!);
  if (flag("lm") !== undefined) plan.lmDir = lmSourceLabel(lmFlag(flag("lm")!));
  plan.lm.dModel = int("d-model", flag("d-model"), plan.lm.dModel);
  plan.lm.nLayer = int("layers", flag("layers"), plan.lm.nLayer);
  plan.lm.nHead = int("heads", flag("heads"), plan.lm.nHead);
  plan.lm.epochs = int("lm-epochs", flag("lm-epochs"), plan.lm.epochs);
  plan.lm.minutes = num("lm-minutes", flag("lm-minutes"), plan.lm.minutes, RANGES.positive);
  plan.meta.steps = int("meta-steps", flag("meta-steps"), plan.meta.steps);
  const metaMinutes = num(
    "meta-minutes",
    flag("meta-minutes"),
    plan.meta.minutes.malmen,
    RANGES.positive,
  );
  plan.meta.minutes = { malmen: metaMinutes, mend: metaMinutes };
  if (plan.lm.dModel % plan.lm.nHead !== 0) {
    throw new UsageError(
      `--d-model ${plan.lm.dModel} must be a multiple of --heads ${plan.lm.nHead}`,
    );
  }
  return plan;
}

function log(message: string): void {
  console.error(`[report] ${message}`);
}

// What the plan's runs write, with the GPT-2 vocabulary as an upper bound of the compact one.
function planBytes(plan: ExperimentPlan): number {
  const { dModel, nLayer, nHead, nCtx } = plan.lm;
  const config = gptConfig("tiny", { vocabSize: 50257, dModel, nLayer, nHead, nCtx });
  return lmRunBytes(config) + 2 * editorRunBytes(config, defaultEditorConfig(nLayer)) +
    memitBytes(config);
}

async function run(
  plan: ExperimentPlan,
  backend: Backend,
  control: RunControl,
  hash: string,
): Promise<ResultRow[] | null> {
  const runs = await counterFactRuns(plan, backend, control);
  if (runs === null) return null;
  const { model, tokenizer, splits } = runs;
  log("measuring the base model on the true facts");
  const all = [...splits.train, ...splits.val, ...splits.edit];
  const acc = (
    prompt: (r: (typeof all)[number]) => string,
    answer: (r: (typeof all)[number]) => string,
  ) =>
    meanAccuracy(
      model,
      all.map((r) => encodeFact(tokenizer, { prompt: prompt(r), answer: answer(r) })),
    );
  const base = {
    prompt: await acc((r) => r.prompt, (r) => r.ground_truth),
    paraphrase: await acc((r) => r.rephrase_prompt, (r) => r.ground_truth),
    locality: await acc((r) => r.locality_prompt, (r) => r.locality_ground_truth),
    cases: all.length,
  };
  const editors: Editor[] = [];
  const provenance: EditorProvenance[] = [];
  let ft: ReportSetup["ft"] = { grid: [], lr: 0 };
  let memit: ReportSetup["memit"] = null;
  const release = () => {
    for (const e of editors) (e as { dispose?: () => void }).dispose?.();
    model.dispose();
  };
  for (const name of plan.editors) {
    if (name === "memit") {
      log("setting up MEMIT: key covariances, settings chosen on the val split");
      const r = await memitEditor(plan, runs, control);
      editors.push(r.editor);
      memit = {
        settings: r.provenance.settings,
        grid: r.provenance.grid,
        texts: r.provenance.texts,
      };
    } else if (name === "ft") {
      log("choosing the fine-tuning learning rate on the val split");
      const r = await ftEditor(plan, runs, log);
      editors.push(r.editor);
      ft = {
        grid: r.grid.map((g) => ({ lr: g.lr, es: g.val.es, gs: g.val.gs, ls: g.val.ls })),
        lr: r.editor.config.ftLr,
      };
    } else {
      const r = await hyperEditor(plan, runs, name, control);
      editors.push(r.editor);
      if (r.interrupted) {
        release();
        return null;
      }
      provenance.push(r.provenance);
    }
  }
  const rowsPath = runPath(plan.runsDir, "rows.json");
  const bar = new Progress({ label: "edits", total: 1 });
  const t0 = performance.now();
  const rows = await runSweep(model, editors, runs.edits, plan.ms, rowsPath, {
    log,
    stop: control.stop,
    progress: (done, total) => {
      bar.setTotal(total);
      bar.update(done);
    },
  });
  bar.finish();
  const sweep = (performance.now() - t0) / 1000;
  release();
  if (control.stop.requested) return null;
  const editorSeconds = provenance.reduce((a, p) => a + p.seconds, 0);
  const setup: ReportSetup = {
    plan: plan.name,
    date: new Date().toISOString().slice(0, 10),
    machine: machine(backend),
    model: {
      dModel: model.config.dModel,
      nLayer: model.config.nLayer,
      nHead: model.config.nHead,
      nCtx: model.config.nCtx,
      vocabSize: model.config.vocabSize,
    },
    records: { train: splits.train.length, val: splits.val.length, edit: splits.edit.length },
    base,
    lmTraining: runs.lmTraining,
    edited: {
      layers: (editors.find((e) => "config" in e) as { config: { layers: number[] } })?.config
        .layers ?? [],
      dIn: model.config.dInner,
    },
    editors: provenance,
    ft,
    memit,
    fits: await readFits(rowsPath),
    seconds: { sweep, total: runs.lmTraining.seconds + editorSeconds + sweep },
  };
  await writeJsonAtomic(runPath(plan.runsDir, "setup.json"), { ...setup, data: hash });
  await writeReport(plan, rows, setup, hash);
  return rows;
}

async function writeReport(
  plan: ExperimentPlan,
  rows: ResultRow[],
  setup: ReportSetup,
  hash: string | null,
) {
  const out = (name: string): string => runPath(plan.resultsDir, name);
  await Deno.mkdir(plan.resultsDir, { recursive: true });
  await recordResultsData(plan.resultsDir, hash);
  await writeJsonAtomic(out("counterfact.json"), rows);
  await writeFileAtomic(out("counterfact.md"), markdownReport(rows, setup));
  await writeFileAtomic(out("counterfact.html"), htmlReport(rows, setup));
  log(`wrote ${out("counterfact.json")}, counterfact.md and counterfact.html`);
}

function machine(backend: Backend): string {
  const adapter = backend.kind === "webgpu" ? `WebGPU adapter "${backend.adapter}"` : "CPU backend";
  return `${navigator.hardwareConcurrency} CPU cores, ${adapter}`;
}
