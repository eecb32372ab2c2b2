// The trained artefacts of the CounterFact experiment — base LM, MALMEN and MEND-sum editors,
// the FT learning rate — reused from the plan's runs folder when present, trained (or resumed)
// when not, through the load-or-train workflows. Every selection looks at the validation split.
import type { Backend } from "../../../engine/backend.ts";
import type { GPT } from "../../../engine/models/gpt/model.ts";
import type { Tokenizer } from "../../../engine/models/tokenizer/tokenizer.ts";
import { createRng } from "../../../malmen/data/prng.ts";
import { loadDataSplits } from "../../../malmen/data/data_source.ts";
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import { defaultEditorConfig } from "../../../malmen/editors/editor.ts";
import { FtEditor } from "../../../malmen/editors/ft.ts";
import { scoreEdit } from "../../../malmen/eval/edit_and_score.ts";
import { type ScoreSummary, selectionScore } from "../../../malmen/eval/metrics.ts";
import { type EditRequest, toRequests } from "../../../malmen/eval/requests.ts";
import { counterFactCorpus, encodeFact } from "../../../malmen/lm/corpus.ts";
import { latestCheckpoint, readRunJson, runPath } from "../../../malmen/lm/run_dir.ts";
import { loadLm, parseLmSource } from "../../../malmen/lm/source.ts";
import { type MemitRun, memitRun } from "../../../malmen/workflows/memit_run.ts";
import { type EditorRun, editorRun, lmRun } from "../../../malmen/workflows/runs.ts";
import { contextFor, counterFactSetup, modelConfigFor } from "../../../malmen/workflows/setup.ts";
import { COUNTERFACT_SHUFFLE_SEED } from "../../../malmen/workflows/settings.ts";
import { pct } from "../../../examples/_cli/options.ts";
import { lmStepText } from "../../../examples/_cli/progress.ts";
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

/** How the experiment's long steps report and stop. */
export interface RunControl {
  /** Progress messages. */
  log: (m: string) => void;
  /** Set by Ctrl-C: stop after the current step, leaving resumable runs. */
  stop: { requested: boolean };
}

/** Loaded artefacts. */
export interface CounterFactRuns {
  /** The splits. */
  splits: Splits;
  /** The base LM (frozen). */
  model: GPT;
  /** Its tokenizer. */
  tokenizer: Tokenizer;
  /** LM training wall time and steps. */
  lmTraining: { seconds: number; steps: number };
  /** Validation requests. */
  val: EditRequest[];
  /** Evaluation requests (edit split), in a fixed shuffled order: the first m are edited. */
  edits: EditRequest[];
}

/**
 * Reads the plan's splits (cut to its limits).
 */
export async function loadSplits(plan: ExperimentPlan): Promise<Splits> {
  const s = await loadDataSplits(plan.data);
  const cut = <T>(xs: T[], n?: number): T[] => (n === undefined ? xs : xs.slice(0, n));
  return {
    train: cut(s.train, plan.limit?.train),
    val: cut(s.val, plan.limit?.val),
    edit: cut(s.edit, plan.limit?.edit),
  };
}

/**
 * Loads (or trains) the base LM on every case's true facts; null when training was stopped.
 * @param backend Where to run.
 * @param control Progress and stop.
 */
export async function counterFactRuns(
  plan: ExperimentPlan,
  backend: Backend,
  control: RunControl,
): Promise<CounterFactRuns | null> {
  const splits = await loadSplits(plan);
  const all = [...splits.train, ...splits.val, ...splits.edit];
  const lm = plan.lmDir === undefined
    ? await trainedLm(plan, all, backend, control)
    : await givenLm(plan.lmDir, backend, control);
  if (lm === null) return null;
  const { model, tokenizer } = lm;
  const need = contextFor(tokenizer, all);
  if (model.config.nCtx < need) {
    model.dispose();
    throw new RangeError(
      `The language model's context is ${model.config.nCtx} tokens; the records need ${need}`,
    );
  }
  const n = model.config.nCtx;
  const edits = toRequests(tokenizer, splits.edit, n);
  // Nested random subsets: the first m of one fixed shuffle.
  createRng(COUNTERFACT_SHUFFLE_SEED).shuffle(edits);
  return {
    splits,
    model,
    tokenizer,
    lmTraining: lm.training,
    val: toRequests(tokenizer, splits.val, n),
    edits,
  };
}

// The plan's LM in runs/<plan>/lm: loaded when finished, else trained (resumed) to its budget.
async function trainedLm(
  plan: ExperimentPlan,
  all: readonly EditRecord[],
  backend: Backend,
  control: RunControl,
): Promise<GivenLm | null> {
  const setup = await counterFactSetup(all);
  const size = plan.lm;
  const lm = await lmRun(setup, {
    outDir: runPath(plan.runsDir, "lm"),
    config: modelConfigFor(setup.tokenizer, {
      dModel: size.dModel,
      nLayer: size.nLayer,
      nHead: size.nHead,
      // The plan's context, or longer when the records need it (CounterFact needs 72).
      nCtx: Math.max(size.nCtx, contextFor(setup.tokenizer, all)),
    }),
    backend,
    batchSize: plan.lm.batch,
    maxEpochs: plan.lm.epochs,
    maxSeconds: plan.lm.minutes * 60,
    lmWeight: 0,
    bucketByLength: true,
    stop: control.stop,
    log: control.log,
    onStep: (i) => {
      if (i.step % 200 === 0) {
        control.log(`  lm ${lmStepText(i)} of ${i.total}`);
      }
    },
  });
  if (lm.done === null) {
    lm.model.dispose();
    return null;
  }
  const { model, tokenizer, done } = lm;
  return { model, tokenizer, training: { seconds: done.seconds, steps: done.steps } };
}

/** A loaded LM and what its training cost. */
interface GivenLm {
  model: GPT;
  tokenizer: Tokenizer;
  training: { seconds: number; steps: number };
}

// An LM trained separately (e.g. `deno task train --data counterfact --out DIR`) or a Hugging
// Face GPT-2 directory (`hf:DIR`), used as is with its own tokenizer.
async function givenLm(label: string, backend: Backend, control: RunControl): Promise<GivenLm> {
  control.log(`using the language model ${label}`);
  const source = parseLmSource(label);
  const { model, tokenizer, step } = await loadLm(source, backend);
  let seconds = 0;
  try {
    const latest = await latestCheckpoint(source.dir);
    seconds = Number(
      (await readRunJson<{ seconds?: unknown }>(
        runPath(latest!.folder, "state.json"),
      )).seconds,
    ) || 0;
  } catch {
    // An HF directory, or a checkpoint without its training state: the time is unknown (0).
  }
  return { model, tokenizer, training: { seconds, steps: step } };
}

/**
 * Loads (or meta-trains, resuming an unfinished run) a hyper-network editor at its best
 * checkpoint on the validation split.
 * @param runs The artefacts.
 * @param name `malmen` or `mend`.
 * @param control Progress and stop.
 * @returns The editor and where it came from.
 */
export async function hyperEditor(
  plan: ExperimentPlan,
  runs: CounterFactRuns,
  name: "malmen" | "mend",
  control: RunControl,
): Promise<EditorRun> {
  const n = runs.model.config.nCtx;
  return await editorRun(runs.model, toRequests(runs.tokenizer, runs.splits.train, n), runs.val, {
    outDir: runPath(plan.runsDir, name),
    editor: name,
    config: { ...defaultEditorConfig(runs.model.config.nLayer), editLoss: plan.meta.editLoss },
    nEdits: Math.min(plan.meta.nEdits, runs.splits.train.length),
    steps: plan.meta.steps,
    valEvery: plan.meta.valEvery,
    valEdits: plan.meta.valEdits,
    metaLr: plan.meta.metaLr,
    maxSeconds: plan.meta.minutes[name] * 60,
    stop: control.stop,
    log: control.log,
    onStep: (i) => {
      if (i.val !== null && i.step % plan.meta.valEvery === 0) {
        control.log(
          `  ${name} step ${i.step} meta-loss ${i.loss.toFixed(3)} val ES ${pct(i.val.es)} GS ${
            pct(i.val.gs)
          } LS ${pct(i.val.ls)}`,
        );
      }
    },
  });
}

/**
 * The fine-tuning baseline with its learning rate chosen on the validation split (the best
 * harmonic mean of ES, GS and LS at `plan.ftSelectM` facts).
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
  const config = (lr: number) => ({ ...defaultEditorConfig(runs.model.config.nLayer), ftLr: lr });
  for (const lr of plan.ftLrGrid) {
    const o = await scoreEdit(runs.model, new FtEditor(config(lr)), requests, false);
    grid.push({ lr, val: o.after });
    log(`  ft lr ${lr}: val ES ${pct(o.after.es)} GS ${pct(o.after.gs)} LS ${pct(o.after.ls)}`);
  }
  const best = grid.reduce((a, b) => (selectionScore(b.val) > selectionScore(a.val) ? b : a));
  return { editor: new FtEditor(config(best.lr)), grid };
}

/**
 * The MEMIT baseline: key covariances over a sample of the LM's training texts, settings chosen
 * on the validation split (the best harmonic mean of ES, GS and LS at `plan.ftSelectM` facts).
 * @param runs The artefacts.
 * @param control Progress and stop.
 */
export async function memitEditor(
  plan: ExperimentPlan,
  runs: CounterFactRuns,
  control: RunControl,
): Promise<MemitRun> {
  // An even sample of the LM's own training texts (true facts and their paraphrases).
  const { splits } = runs;
  const corpus = counterFactCorpus([...splits.train, ...splits.val, ...splits.edit], true).training;
  const step = Math.max(1, corpus.length / plan.memit.texts);
  const texts = Array.from({ length: Math.min(plan.memit.texts, corpus.length) }, (_, i) => {
    const p = encodeFact(runs.tokenizer, corpus[Math.floor(i * step)]);
    return [...p.prompt, ...p.answer];
  });
  return await memitRun(runs.model, {
    dir: runPath(plan.runsDir, "memit"),
    texts,
    val: runs.val,
    valEdits: plan.ftSelectM,
    grid: plan.memit.grid,
    log: control.log,
  });
}
