/**
 * Load-or-train: a run folder whose training finished (`done.json`) is loaded; otherwise it is
 * trained, resuming what an interrupted run left. An editor run is always used at the
 * checkpoint chosen on the validation split (`best.json`), never at its last step. A run is
 * reused only for the data it was trained on (its `data.json`), and an editor only with the LM it
 * was made for.
 * @module
 */
import { writeJsonAtomic } from "../../engine/io/atomic.ts";
import { type GPTConfig, gptConfig } from "../../engine/models/gpt/config.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import { type EditorLoadOptions, HyperEditor } from "../editors/hyper.ts";
import {
  editorDataHash,
  type EditorHistoryPoint,
  type EditorTrainOptions,
  trainEditor,
} from "../editors/train_editor.ts";
import type { ScoreSummary } from "../eval/metrics.ts";
import type { EditRequest } from "../eval/requests.ts";
import type { LmCorpus } from "../lm/corpus.ts";
import { dataHash } from "../lm/identity.ts";
import { loadLmRun } from "../lm/load.ts";
import {
  bestCheckpoint,
  checkRunData,
  latestCheckpoint,
  readRunJson,
  runPath,
} from "../lm/run_dir.ts";
import { type HistoryPoint, type LmTrainOptions, trainLm } from "../lm/train.ts";
import { isNotFound, platform } from "../../engine/platform/mod.ts";

/** Marker written when a run's training finished (not interrupted). */
export const DONE_FILE = "done.json";

/** Options shared by the load-or-train workflows. */
export interface RunOptions {
  /** Ignore what the folder holds and train from scratch (default false: reuse or resume). */
  retrain?: boolean;
  /** Progress messages (training starts, reuse). */
  log?: (message: string) => void;
}

/** What a finished LM run measured (its `done.json`). */
export type LmDone = NonNullable<LmRun["done"]>;

/** A loaded (or just trained) LM. */
export interface LmRun {
  /** The model, frozen (caller disposes). */
  model: GPT;
  /** Its tokenizer. */
  tokenizer: Tokenizer;
  /** What training measured (its `done.json`; null when it was interrupted). */
  done: {
    /** Steps trained. */
    steps: number;
    /** Training wall time, resumed parts included. */
    seconds: number;
    /** Facts scored. */
    facts: number;
    /** Teacher-forced answer accuracy on the facts. */
    answerAcc: number;
    /** The same on held-out phrasings. */
    paraphraseAcc: number;
  } | null;
  /** Loss curve. */
  history: HistoryPoint[];
  /** Whether training stopped on request (then resume later). */
  interrupted: boolean;
}

/** What an LM is trained on: its corpus and tokenizer. */
export interface LmData {
  /** Training texts and scored facts. */
  corpus: LmCorpus;
  /** The tokenizer (saved with the model). */
  tokenizer: Tokenizer;
}

/**
 * The LM of `options.outDir`: loaded when its training finished, else trained (resumed).
 * @param data The corpus and tokenizer.
 * @param options Training options plus reuse settings (a reused run must have `config`).
 */
export async function lmRun(
  data: LmData,
  options: LmTrainOptions & RunOptions,
): Promise<LmRun> {
  const dir = options.outDir;
  await checkSameModel(dir, options);
  let done = options.retrain ? null : await readDone<LmDone>(dir);
  if (done === null) {
    await platform().remove(runPath(dir, DONE_FILE)).catch(() => {});
    const { corpus, tokenizer } = data;
    options.log?.(`training the language model on ${corpus.training.length} texts into ${dir}`);
    const r = await trainLm(corpus, tokenizer, { ...options, resume: !options.retrain });
    r.model.setTrainable(false);
    if (!r.interrupted) {
      const { steps, seconds, facts, answerAcc, paraphraseAcc } = r;
      done = { steps, seconds, facts, answerAcc, paraphraseAcc };
      await writeJsonAtomic(runPath(dir, DONE_FILE), done);
    }
    return { model: r.model, tokenizer, done, history: r.history, interrupted: r.interrupted };
  }
  await checkRunData(dir, await dataHash(data.corpus), { write: false });
  options.log?.(`reusing the language model in ${dir}`);
  const loaded = await loadLmRun(dir, options.backend);
  const state = await readState<{ history: HistoryPoint[] }>(dir);
  return { ...loaded, done, history: state.history, interrupted: false };
}

/** How an editor was obtained (for reports). */
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

/** An editor at its checkpoint chosen on the validation split. */
export interface EditorRun {
  /** The editor (normaliser frozen; caller disposes). */
  editor: HyperEditor;
  /** Where it came from. */
  provenance: EditorProvenance;
  /** Whether meta-training stopped on request (the editor is then the last state, unselected). */
  interrupted: boolean;
}

/**
 * The editor of `options.outDir` at its best validation checkpoint: meta-trained (resumed)
 * first unless that finished.
 * @param model The LM (frozen).
 * @param train Meta-training facts.
 * @param val Validation facts (checkpoint selection).
 * @param options Meta-training options plus reuse settings.
 * @returns The editor and its provenance.
 */
export async function editorRun(
  model: GPT,
  train: readonly EditRequest[],
  val: readonly EditRequest[],
  options: EditorTrainOptions & RunOptions,
): Promise<EditorRun> {
  const dir = options.outDir;
  if (options.retrain || (await readDone(dir)) === null) {
    await platform().remove(runPath(dir, DONE_FILE)).catch(() => {});
    options.log?.(`meta-training ${options.editor} on ${train.length} facts into ${dir}`);
    const r = await trainEditor(model, train, val, { ...options, resume: !options.retrain });
    if (r.interrupted) {
      const provenance = { editor: options.editor, step: r.steps, trainedSteps: r.steps };
      return {
        editor: r.editor,
        provenance: { ...provenance, seconds: r.seconds, val: r.val },
        interrupted: true,
      };
    }
    r.editor.dispose();
    await writeJsonAtomic(runPath(dir, DONE_FILE), { steps: r.steps, seconds: r.seconds });
  } else {
    await checkRunData(dir, await editorDataHash(train, val), { write: false });
    options.log?.(`reusing the ${options.editor} editor in ${dir}`);
  }
  return { ...(await loadEditorRun(dir, model, options)), interrupted: false };
}

/**
 * Loads an editor run at its best validation checkpoint (else its latest), without training.
 * @param dir The run folder (a checkpoint folder itself is also accepted).
 * @param model The LM it edits (the one it was made for, unless `options.force`).
 * @param options `force`, `allowNonFinite` (see `HyperEditor.load`).
 * @returns The editor and its provenance.
 */
export async function loadEditorRun(
  dir: string,
  model: GPT,
  options: EditorLoadOptions = {},
): Promise<{ editor: HyperEditor; provenance: EditorProvenance }> {
  const latest = await latestCheckpoint(dir);
  const chosen = (await bestCheckpoint(dir)) ?? latest;
  const editor = await HyperEditor.load(chosen?.folder ?? dir, model, options);
  const state = latest === null ? null : await readState<{
    step: number;
    seconds: number;
    history: EditorHistoryPoint[];
  }>(dir);
  const step = chosen?.step ?? 0;
  return {
    editor,
    provenance: {
      editor: editor.name,
      step,
      trainedSteps: state?.step ?? step,
      seconds: state?.seconds ?? 0,
      val: state?.history.find((h) => h.step === step && h.val)?.val ?? null,
    },
  };
}

async function readDone<T>(dir: string): Promise<T | null> {
  try {
    return JSON.parse(await platform().readTextFile(runPath(dir, DONE_FILE))) as T;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw new Error(`${runPath(dir, DONE_FILE)}: ${(e as Error).message}`);
  }
}

async function readState<T>(dir: string): Promise<T> {
  const latest = await latestCheckpoint(dir);
  if (latest === null) throw new Error(`"${dir}" has no checkpoint (latest.json missing)`);
  return await readRunJson<T>(runPath(latest.folder, "state.json"));
}

// Reusing or resuming a run trained with another model would silently mix two experiments.
async function checkSameModel(dir: string, options: LmTrainOptions & RunOptions): Promise<void> {
  if (options.retrain) return;
  let text: string;
  try {
    text = await platform().readTextFile(runPath(dir, "config.json"));
  } catch {
    return;
  }
  const canonical = (c: GPTConfig): string =>
    JSON.stringify(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)));
  if (canonical(gptConfig(JSON.parse(text))) !== canonical(gptConfig(options.config))) {
    throw new Error(
      `"${dir}" holds a language model of another configuration; choose another folder or retrain`,
    );
  }
}
