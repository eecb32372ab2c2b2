// The trained artefacts of the CounterFact experiment — base LM, MALMEN and MEND-sum editors,
// the FT learning rate — reused from the plan's runs folder when present, trained (or resumed)
// when not. Every selection looks at the validation split only.
import type { Backend } from "../../../engine/backend.ts";
import type { GPT } from "../../../engine/models/gpt/model.ts";
import type { Tokenizer } from "../../../engine/models/tokenizer/tokenizer.ts";
import { writeJsonAtomic } from "../../../engine/io/atomic.ts";
import { createRng } from "../../../malmen/data/prng.ts";
import { loadCounterFactSplits } from "../../../malmen/data/data_raw.ts";
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import { defaultEditorConfig } from "../../../malmen/editors/editor.ts";
import { FtEditor } from "../../../malmen/editors/ft.ts";
import { HyperEditor } from "../../../malmen/editors/hyper.ts";
import { loadLmRun } from "../../../malmen/lm/load.ts";
import { bestCheckpoint, latestCheckpoint, runPath } from "../../../malmen/lm/run_dir.ts";
import { trainLm } from "../../../malmen/lm/train.ts";
import { type ScoreSummary, selectionScore } from "../../../malmen/eval/metrics.ts";
import { counterFactSetup, editAndScore, modelConfigFor } from "../../../malmen/workflows.ts";
import { revertShifts } from "../../../malmen/editors/journal.ts";
import { type EditRequest, toRequests } from "../../../malmen/eval/requests.ts";
import { trainEditor } from "../../../malmen/editors/train_editor.ts";
import type { ExperimentPlan } from "./plan.ts";

/** The three splits, possibly cut to the plan's limits. */
export interface Splits {
  /** Meta-training records. */
  train: EditRecord[];
  /** Validation records (all selection happens here). */
  val: EditRecord[];
  /** Held-out evaluation records. */
  edit: EditRecord[];
}

/** How an editor was obtained (for the report). */
export interface EditorProvenance {
  /** Editor name. */
  editor: string;
  /** Checkpoint step used (the best on validation). */
  step: number;
  /** Meta-training steps run in all. */
  trainedSteps: number;
  /** Meta-training wall time, seconds. */
  seconds: number;
  /** Validation summary at the selected step. */
  val: ScoreSummary | null;
}

/** Loaded artefacts. */
export interface CounterFactRuns {
  /** The splits. */
  splits: Splits;
  /** The base LM (frozen). */
  model: GPT;
  /** Its tokenizer. */
  tokenizer: Tokenizer;
  /** LM training wall time and steps from its checkpoint. */
  lmTraining: { seconds: number; steps: number };
  /** Validation requests. */
  val: EditRequest[];
  /** Evaluation requests (edit split), in a fixed shuffled order: the first m are edited. */
  edits: EditRequest[];
}

/**
 * Reads the splits (cut to the plan's limits).
 * @param plan The plan.
 * @returns The records.
 */
export async function loadSplits(plan: ExperimentPlan): Promise<Splits> {
  const s = await loadCounterFactSplits();
  const cut = <T>(xs: T[], n?: number): T[] => (n === undefined ? xs : xs.slice(0, n));
  return {
    train: cut(s.train, plan.limit?.train),
    val: cut(s.val, plan.limit?.val),
    edit: cut(s.edit, plan.limit?.edit),
  };
}

/**
 * Loads (or trains) the base LM on every case's true facts.
 * @param plan The plan.
 * @param backend Where to run.
 * @param log Progress messages.
 * @returns The artefacts.
 */
export async function counterFactRuns(
  plan: ExperimentPlan,
  backend: Backend,
  log: (m: string) => void,
): Promise<CounterFactRuns> {
  const splits = await loadSplits(plan);
  const lmDir = runPath(plan.runsDir, "lm");
  if ((await latestCheckpoint(lmDir)) === null || !(await exists(runPath(lmDir, "done.json")))) {
    const setup = await counterFactSetup([...splits.train, ...splits.val, ...splits.edit]);
    log(
      `training the base LM on ${setup.corpus.training.length} true-fact texts (up to ${plan.lm.minutes} min) into ${lmDir}`,
    );
    const r = await trainLm(setup.corpus, setup.tokenizer, {
      outDir: lmDir,
      config: modelConfigFor(setup.tokenizer, {
        dModel: plan.lm.dModel,
        nLayer: plan.lm.nLayer,
        nHead: plan.lm.nHead,
        nCtx: plan.lm.nCtx,
      }),
      backend,
      batchSize: plan.lm.batch,
      maxEpochs: plan.lm.epochs,
      maxSeconds: plan.lm.minutes * 60,
      lmWeight: 0,
      bucketByLength: true,
      resume: true,
      onStep: (i) => {
        if (i.step % 200 === 0) log(`  lm step ${i.step}/${i.total} loss ${i.loss.toFixed(3)}`);
      },
    });
    r.model.dispose();
    await writeJsonAtomic(runPath(lmDir, "done.json"), { steps: r.steps, seconds: r.seconds });
  }
  const { model, tokenizer } = await loadLmRun(lmDir, backend);
  const latest = (await latestCheckpoint(lmDir))!;
  const state = JSON.parse(await Deno.readTextFile(runPath(latest.folder, "state.json")));
  const n = model.config.nCtx;
  const edits = toRequests(tokenizer, splits.edit, n);
  // Nested random subsets: the first m of one fixed shuffle.
  createRng(20240126).shuffle(edits);
  return {
    splits,
    model,
    tokenizer,
    lmTraining: { seconds: state.seconds, steps: state.step },
    val: toRequests(tokenizer, splits.val, n),
    edits,
  };
}

/**
 * Loads (or meta-trains, resuming an unfinished run) a hyper-network editor and returns its
 * best checkpoint on the validation split.
 * @param plan The plan.
 * @param runs The artefacts.
 * @param name `malmen` or `mend`.
 * @param log Progress messages.
 * @returns The editor and where it came from.
 */
export async function hyperEditor(
  plan: ExperimentPlan,
  runs: CounterFactRuns,
  name: "malmen" | "mend",
  log: (m: string) => void,
): Promise<{ editor: HyperEditor; provenance: EditorProvenance }> {
  const dir = runPath(plan.runsDir, name);
  if (!(await exists(runPath(dir, "done.json")))) {
    const minutes = plan.meta.minutes[name];
    log(`meta-training ${name} on ${runs.splits.train.length} facts (${minutes} min) into ${dir}`);
    const n = runs.model.config.nCtx;
    const r = await trainEditor(
      runs.model,
      toRequests(runs.tokenizer, runs.splits.train, n),
      runs.val,
      {
        outDir: dir,
        editor: name,
        config: { ...defaultEditorConfig(runs.model.config.nLayer), editLoss: plan.meta.editLoss },
        nEdits: Math.min(plan.meta.nEdits, runs.splits.train.length),
        steps: 1_000_000,
        valEvery: plan.meta.valEvery,
        valEdits: plan.meta.valEdits,
        metaLr: plan.meta.metaLr,
        maxSeconds: minutes * 60,
        resume: true,
        onStep: (i) => {
          if (i.val !== null && i.step % plan.meta.valEvery === 0) {
            log(
              `  ${name} step ${i.step} meta-loss ${i.loss.toFixed(3)} val ES ${pct(i.val.es)} GS ${
                pct(i.val.gs)
              } LS ${pct(i.val.ls)}`,
            );
          }
        },
      },
    );
    r.editor.dispose();
    await writeJsonAtomic(runPath(dir, "done.json"), { steps: r.steps, seconds: r.seconds });
  }
  const chosen = (await bestCheckpoint(dir)) ?? (await latestCheckpoint(dir))!;
  const editor = await HyperEditor.load(chosen.folder, runs.model);
  const latest = (await latestCheckpoint(dir))!;
  const state = JSON.parse(await Deno.readTextFile(runPath(latest.folder, "state.json"))) as {
    step: number;
    seconds: number;
    history: { step: number; val?: ScoreSummary }[];
  };
  return {
    editor,
    provenance: {
      editor: name,
      step: chosen.step,
      trainedSteps: state.step,
      seconds: state.seconds,
      val: state.history.find((h) => h.step === chosen.step && h.val)?.val ?? null,
    },
  };
}

/**
 * The fine-tuning baseline with its learning rate chosen on the validation split (the best
 * harmonic mean of ES, GS and LS at `plan.ftSelectM` facts).
 * @param plan The plan.
 * @param runs The artefacts.
 * @param log Progress messages.
 * @returns The editor and the grid's validation scores.
 */
export async function ftEditor(
  plan: ExperimentPlan,
  runs: CounterFactRuns,
  log: (m: string) => void,
): Promise<{ editor: FtEditor; grid: { lr: number; val: ScoreSummary }[] }> {
  const requests = runs.val.slice(0, plan.ftSelectM);
  const grid: { lr: number; val: ScoreSummary }[] = [];
  for (const lr of plan.ftLrGrid) {
    const editor = new FtEditor({ ...defaultEditorConfig(runs.model.config.nLayer), ftLr: lr });
    const o = await editAndScore(runs.model, editor, requests, false);
    revertShifts(runs.model);
    for (const t of o.shifts.values()) t.dispose();
    grid.push({ lr, val: o.after });
    log(`  ft lr ${lr}: val ES ${pct(o.after.es)} GS ${pct(o.after.gs)} LS ${pct(o.after.ls)}`);
  }
  const best = grid.reduce((a, b) => (selectionScore(b.val) > selectionScore(a.val) ? b : a));
  return {
    editor: new FtEditor({ ...defaultEditorConfig(runs.model.config.nLayer), ftLr: best.lr }),
    grid,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
