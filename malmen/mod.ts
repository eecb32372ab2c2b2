/**
 * MALMEN (Tan, Zhang, Fu, ICLR 2024): a meta-learned hyper-network turns per-token keys and
 * value-gradients at FFN output projections into target value changes, and a ridge least-squares
 * solve folds them into one weight shift per layer, so thousands of facts are edited at once.
 *
 * The user story: train a language model ({@linkcode trainLm}), meta-train an editor
 * ({@linkcode trainEditor}, or the load-or-train {@linkcode editorRun}), edit and score facts
 * ({@linkcode editAndScore}), keep or revert the edit as an entry of an append-only
 * {@linkcode Journal}, load edit data (the synthetic world, CounterFact, zsRE, your own files;
 * {@linkcode fetchDataset} downloads the public sets), and read or write Hugging Face GPT-2
 * directories ({@linkcode loadLm}, {@linkcode saveHfLm}). The MEND-sum, fine-tuning and MEMIT
 * baselines share the {@linkcode Editor} interface; {@linkcode openEditor} opens any of them by
 * name. Runs, editors, journal entries and written models record what they were made from (an
 * LM's identity, a hash of the training data) and refuse to be used with anything else.
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
export type { MemitPosition, MemitSettings } from "./editors/memit.ts";
export type { MemitTargetOptions } from "./algorithm/memit_targets.ts";
export { EDITOR_NAMES, EDITORS, openEditor } from "./workflows/editors.ts";
export type { EditorInfo, OpenedEditor, OpenEditorOptions } from "./workflows/editors.ts";
// Training.
export { trainLm } from "./lm/train.ts";
export type { HistoryPoint, LmTrainOptions, LmTrainResult, StepInfo } from "./lm/train.ts";
export { editorDataHash, trainEditor } from "./editors/train_editor.ts";
export type {
  EditorHistoryPoint,
  EditorStepInfo,
  EditorTrainOptions,
  EditorTrainResult,
} from "./editors/train_editor.ts";
export { loadLmRun } from "./lm/load.ts";
export type { LmLoadOptions, LoadedLm } from "./lm/load.ts";
export { lmSourceLabel, loadLm, parseLmSource, saveHfLm } from "./lm/source.ts";
export type { LmSource } from "./lm/source.ts";
// Provenance and guards.
export {
  checkMadeFor,
  dataHash,
  identify,
  identityOf,
  lmIdentity,
  ProvenanceError,
} from "./lm/identity.ts";
export type { Hash, IdentityWeights, ProvenanceOptions } from "./lm/identity.ts";
export { checkRunData, OtherDataError } from "./lm/run_dir.ts";
export { describeRange, inRange, RANGES, requireInRange } from "./ranges.ts";
export type { Range } from "./ranges.ts";
// Editing.
export { toRequests } from "./eval/requests.ts";
export type { EditRequest } from "./eval/requests.ts";
export type { PromptAnswer } from "../engine/models/gpt/batch.ts";
export { editAndScore, scoreEdit } from "./eval/edit_and_score.ts";
export type { EditOutcome, EditScores } from "./eval/edit_and_score.ts";
export {
  applyShifts,
  foldShifts,
  journalEditor,
  readJournalEntry,
  replayEditor,
  revertShifts,
  writeJournalEntry,
} from "./editors/journal.ts";
export type { JournalMeta, JournalReadOptions } from "./editors/journal.ts";
export { Journal } from "./editors/journal_log.ts";
export type { EditInfo, JournalEntryInfo, JournalEvent } from "./editors/journal_log.ts";
export { degenerateError, findDegenerate } from "./eval/degenerate.ts";
export type { DegenerateKind, DegenerateRequest } from "./eval/degenerate.ts";
// Metrics and reports.
export { scoreRequests, selectionScore, summarize } from "./eval/metrics.ts";
export type { RequestScores, ScoreSummary } from "./eval/metrics.ts";
export { editReport, markdownSummary } from "./eval/report.ts";
export type { EditReport } from "./eval/report.ts";
// Data.
export type { EditRecord } from "./data/edit_record.ts";
export { loadEditRecords } from "./data/edit_records.ts";
export { loadCounterFact } from "./data/counterfact.ts";
export { loadZsre } from "./data/zsre.ts";
export type { EmptyAltPolicy, ZsreOptions } from "./data/zsre.ts";
export { loadCounterFactSplits } from "./data/data_raw.ts";
export type { CounterFactSplitOptions, CounterFactSplits } from "./data/data_raw.ts";
export {
  dataSpecLabel,
  loadDataRecords,
  loadDataSplits,
  parseDataSpec,
  splitRecords,
} from "./data/data_source.ts";
export type { DataSpec, DataSplits } from "./data/data_source.ts";
export {
  DATA_ENV,
  dataPlaces,
  defaultFetchDir,
  locateDataset,
  MissingDataError,
} from "./data/places.ts";
export type { DataPlace, LookupOptions } from "./data/places.ts";
export { fetchDataset, fetchFiles, manualSteps, OfflineError } from "./data/fetch.ts";
export type { FetchedFile, FetchOptions } from "./data/fetch.ts";
export { DATASET_NAMES, DATASETS, pinnedUrl } from "./data/pins.ts";
export type { DatasetName, PinnedFile } from "./data/pins.ts";
export { generateWorld } from "./data/world.ts";
export type { ResolvedWorldOptions, World, WorldOptions, WorldSubjects } from "./data/world.ts";
export type { EntityKind, Relation } from "./data/relations.ts";
export type { Fact, WorldSizes } from "./data/world_facts.ts";
export type { SplitFractions } from "./data/split_sizes.ts";
export type { LmCorpus, TextFact } from "./lm/corpus.ts";
// Workflows: load or train, and use the checkpoint chosen on the validation split.
export { DEFAULT_WORLD, WORLD_BUDGET } from "./workflows/settings.ts";
export type { WorldBudget } from "./workflows/settings.ts";
export { contextFor, counterFactSetup, modelConfigFor, worldSetup } from "./workflows/setup.ts";
export type { WorldSetup } from "./workflows/setup.ts";
export { editorRun, lmRun, loadEditorRun } from "./workflows/runs.ts";
export type {
  EditorProvenance,
  EditorRun,
  LmData,
  LmDone,
  LmRun,
  RunOptions,
} from "./workflows/runs.ts";
export { memitRun } from "./workflows/memit_run.ts";
export type {
  MemitCandidate,
  MemitProvenance,
  MemitRun,
  MemitRunOptions,
} from "./workflows/memit_run.ts";
export { worldRuns } from "./workflows/world.ts";
export type { WorldRuns, WorldRunsOptions } from "./workflows/world.ts";
