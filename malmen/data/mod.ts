/**
 * Edit data for MALMEN: one {@link EditRecord} schema; loaders for the real flattened
 * CounterFact and ROME-format zsRE files (JSON array or JSON Lines, validated with errors that
 * name file, record and field); and a seeded synthetic knowledge world, the built-in data a
 * tiny language model can memorise and an editor can meta-train and be scored on.
 *
 * @example
 * ```ts
 * import { describeWorld, generateWorld, takeFirst } from "./mod.ts";
 * const world = generateWorld({ seed: 1 });
 * const quick = takeFirst(world.edit, 64);
 * console.log(quick.length, describeWorld(world).facts);
 * ```
 * @module
 */

export type { EditRecord } from "./edit_record.ts";
export {
  COUNTERFACT_FIELDS,
  counterFactRecord,
  loadCounterFact,
  parseCounterFact,
} from "./counterfact.ts";
export {
  type EmptyAltPolicy,
  loadZsre,
  parseZsre,
  ZSRE_FIELDS,
  type ZsreOptions,
  zsreRecord,
} from "./zsre.ts";
export {
  detectFormat,
  type EditDataFormat,
  loadEditRecords,
  parseEditRecords,
} from "./edit_records.ts";
export { parseJsonRecords } from "./json_records.ts";
export { takeFirst } from "./subset.ts";
export {
  type CounterFactSplitOptions,
  type CounterFactSplits,
  DATA_RAW_FILES,
  defaultDataRawDir,
  loadCounterFactSplits,
} from "./data_raw.ts";
export {
  type DataSpec,
  dataSpecLabel,
  type DataSplits,
  FILE_SPLIT,
  loadDataRecords,
  loadDataSplits,
  parseDataSpec,
  splitRecords,
} from "./data_source.ts";
export {
  DATA_ENV,
  type DataPlace,
  dataPlaces,
  defaultFetchDir,
  locateDataset,
  type LookupOptions,
  MissingDataError,
} from "./places.ts";
export {
  fetchDataset,
  type FetchedFile,
  fetchFiles,
  type FetchOptions,
  manualSteps,
  OfflineError,
} from "./fetch.ts";
export {
  DATASET_NAMES,
  type DatasetName,
  DATASETS,
  DEFAULT_BASE_URL,
  type PinnedFile,
  pinnedUrl,
} from "./pins.ts";
export { createRng, type Rng } from "./prng.ts";
export {
  type EntityKind,
  type Relation,
  relationById,
  RELATIONS,
  renderTemplate,
} from "./relations.ts";
export type { Fact, WorldSizes } from "./world_facts.ts";
export type { SplitFractions } from "./split_sizes.ts";
export {
  DEFAULT_WORLD_OPTIONS,
  generateWorld,
  resampleRecords,
  type ResolvedWorldOptions,
  type World,
  type WorldOptions,
  type WorldSubjects,
} from "./world.ts";
export { describeWorld, type WorldStats } from "./world_stats.ts";
