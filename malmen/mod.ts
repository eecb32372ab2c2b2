/**
 * MALMEN (Tan, Zhang, Fu, ICLR 2024): a meta-learned hyper-network turns per-token keys and
 * value-gradients at FFN output projections into target value changes, and a ridge least-squares
 * solve folds them into one weight shift per layer, so thousands of facts are edited at once.
 *
 * The user story: train a language model ({@linkcode trainLm}), meta-train an editor
 * ({@linkcode trainEditor}; {@linkcode worldRuns} loads or trains the synthetic world's LM and
 * editors in one folder), load them back ({@linkcode loadLmRun}, {@linkcode loadEditorRun}), edit
 * and score facts ({@linkcode editAndScore}), keep or revert the edit as an entry of an
 * append-only {@linkcode Journal}, load edit data (the synthetic world, CounterFact, zsRE, your
 * own files) and read or write Hugging Face GPT-2 directories ({@linkcode loadLm},
 * {@linkcode saveHfLm}). The MEND-sum, fine-tuning and MEMIT baselines share the
 * {@linkcode Editor} interface; {@linkcode openEditor} opens any of them by name. Runs, editors,
 * journal entries and written models record what they were made from (an LM's identity, a hash of
 * the training data) and refuse to be used with anything else ({@linkcode ProvenanceError},
 * {@linkcode OtherDataError}).
 *
 * The algorithm's pieces (aggregators, the ridge solve, the normaliser, the meta-training
 * scheduler), the run-folder and data-place helpers and the command-line plumbing are not part of
 * this surface; in the repository they are imported from their own files under `malmen/`.
 *
 * @example Edit facts with the demo's trained editor
 * ```ts ignore
 * import { initWebGpu } from "@malmen/engine";
 * import { editAndScore, loadEditorRun, loadLmRun, toRequests } from "@malmen/engine/malmen";
 * const backend = await initWebGpu();
 * const { model, tokenizer } = await loadLmRun("runs/demo/lm", backend);
 * const { editor } = await loadEditorRun("runs/demo/malmen", model);
 * const outcome = await editAndScore(model, editor, toRequests(tokenizer, records));
 * ```
 * @module
 */
// Editors.
export { defaultEditorConfig } from "./editors/editor.ts";
export type { Editor, EditorConfig, EditorName } from "./editors/editor.ts";
export type { KeyPositions } from "./algorithm/capture.ts";
export { HyperEditor } from "./editors/hyper.ts";
export type { EditorLoadOptions } from "./editors/hyper.ts";
export { FtEditor } from "./editors/ft.ts";
export { defaultMemitSettings, MemitEditor } from "./editors/memit.ts";
export type { MemitSettings } from "./editors/memit.ts";
export type { MemitTargetOptions } from "./algorithm/memit_targets.ts";
export { EDITOR_NAMES, openEditor } from "./workflows/editors.ts";
export type { OpenEditorOptions } from "./workflows/editors.ts";
// Training.
export { trainLm } from "./lm/train.ts";
export type { HistoryPoint, LmTrainOptions, LmTrainResult, StepInfo } from "./lm/train.ts";
export type { LmCorpus, TextFact } from "./lm/corpus.ts";
export { trainEditor } from "./editors/train_editor.ts";
export type {
  EditorHistoryPoint,
  EditorStepInfo,
  EditorTrainOptions,
  EditorTrainResult,
} from "./editors/train_editor.ts";
// Loading and saving language models.
export { loadLmRun } from "./lm/load.ts";
export type { LoadedLm } from "./lm/load.ts";
export { loadLm, saveHfLm } from "./lm/source.ts";
export type { LmSource } from "./lm/source.ts";
// Provenance.
export { ProvenanceError } from "./lm/identity.ts";
export type { Hash, ProvenanceOptions } from "./lm/identity.ts";
export { OtherDataError } from "./lm/run_dir.ts";
// Editing.
export { toRequests } from "./eval/requests.ts";
export type { EditRequest } from "./eval/requests.ts";
export type { PromptAnswer } from "../engine/models/gpt/batch.ts";
export { editAndScore } from "./eval/edit_and_score.ts";
export type { EditOutcome, EditScores } from "./eval/edit_and_score.ts";
export { applyShifts, foldShifts, revertShifts } from "./editors/journal.ts";
export type { JournalReadOptions } from "./editors/journal.ts";
export { Journal } from "./editors/journal_log.ts";
export type { EditInfo, JournalEntryInfo, JournalEvent } from "./editors/journal_log.ts";
// Metrics and reports.
export { scoreRequests, summarize } from "./eval/metrics.ts";
export type { RequestScores, ScoreSummary } from "./eval/metrics.ts";
export { editReport } from "./eval/report.ts";
export type { EditReport } from "./eval/report.ts";
// Data.
export type { EditRecord } from "./data/edit_record.ts";
export { loadEditRecords } from "./data/edit_records.ts";
export { loadCounterFact } from "./data/counterfact.ts";
export { loadZsre } from "./data/zsre.ts";
export type { ZsreOptions } from "./data/zsre.ts";
export { generateWorld } from "./data/world.ts";
export type { World, WorldOptions } from "./data/world.ts";
export type { EntityKind, Relation } from "./data/relations.ts";
export type { Fact, WorldSizes } from "./data/world_facts.ts";
export type { SplitFractions } from "./data/split_sizes.ts";
// Workflows: load or train, and use the checkpoint chosen on the validation split.
export { loadEditorRun } from "./workflows/runs.ts";
export type { EditorProvenance, EditorRun, LmRun } from "./workflows/runs.ts";
export type { MemitProvenance, MemitRun } from "./workflows/memit_run.ts";
export type { WorldBudget } from "./workflows/settings.ts";
export type { WorldSetup } from "./workflows/setup.ts";
export { worldRuns } from "./workflows/world.ts";
export type { WorldRuns, WorldRunsOptions } from "./workflows/world.ts";
