/**
 * Where the shared real data lives and how its CounterFact splits are named. The files are read
 * from outside the repository and never copied into it.
 * @module
 */

import { loadCounterFact } from "./counterfact.ts";
import type { EditRecord } from "./edit_record.ts";
import { platform } from "../../engine/platform/mod.ts";

/**
 * The shared `data-raw` folder: `../shared/data-raw/` next to the repository root.
 * @returns A file URL ending in "/".
 * @example
 * ```ts
 * import { defaultDataRawDir } from "./data_raw.ts";
 * console.log(new URL("zsre/zsre_mend_train-1k.json", defaultDataRawDir()).pathname);
 * ```
 */
export function defaultDataRawDir(): URL {
  // This file is <repo>/malmen/data/data_raw.ts, so the repo's parent is three levels up.
  return new URL("../../../shared/data-raw/", import.meta.url);
}

/**
 * Paths of the real files, relative to the data-raw folder.
 * @example
 * ```ts
 * import { DATA_RAW_FILES, defaultDataRawDir } from "./data_raw.ts";
 * console.log(new URL(DATA_RAW_FILES.counterfactVal, defaultDataRawDir()).pathname);
 * ```
 */
export const DATA_RAW_FILES: {
  readonly counterfactTrain: string;
  readonly counterfactVal: string;
  readonly counterfactEdit: string;
  readonly counterfactEdit1k: string;
  readonly zsreTrain1k: string;
} = {
  counterfactTrain: "counterfact/counterfact-train.json",
  counterfactVal: "counterfact/counterfact-val.json",
  counterfactEdit: "counterfact/counterfact-edit.json",
  counterfactEdit1k: "counterfact/counterfact-edit-1k.json",
  zsreTrain1k: "zsre/zsre_mend_train-1k.json",
};

/**
 * The real CounterFact, split as the files split it (disjoint case ids).
 * @example
 * ```ts ignore
 * import { type CounterFactSplits, loadCounterFactSplits } from "./data_raw.ts";
 * const splits: CounterFactSplits = await loadCounterFactSplits({ edit1k: true });
 * console.log(splits.edit.length); // 1000
 * ```
 */
export interface CounterFactSplits {
  /** Editor meta-training records (counterfact-train.json, 10,000). */
  train: EditRecord[];
  /** Validation records (counterfact-val.json, 1,919). */
  val: EditRecord[];
  /** Held-out evaluation records (counterfact-edit.json 10,000, or edit-1k's 1,000). */
  edit: EditRecord[];
}

/**
 * Options for {@link loadCounterFactSplits}.
 * @example
 * ```ts
 * import type { CounterFactSplitOptions } from "./data_raw.ts";
 * const options: CounterFactSplitOptions = { dir: "/data/raw", edit1k: true };
 * console.log(options.edit1k);
 * ```
 */
export interface CounterFactSplitOptions {
  /** The data-raw folder; default {@link defaultDataRawDir}. */
  dir?: string | URL;
  /** Read `counterfact-edit-1k.json` (a subset of the edit split) instead of the full one. */
  edit1k?: boolean;
}

/**
 * Reads the three real CounterFact splits from one folder (default `../shared/data-raw/`). The
 * commands find them through `loadDataSplits` in `data_source.ts` instead, which also searches
 * `MALMEN_DATA` and the fetch cache.
 * @param options Folder and which edit file to use.
 * @returns train / val / edit records.
 * @throws {Error} Named `NotFound` if a file is absent; {TypeError} if one is malformed.
 * @example
 * ```ts ignore
 * import { loadCounterFactSplits } from "./data_raw.ts";
 * const { train, val, edit } = await loadCounterFactSplits();
 * console.log(train.length, val.length, edit.length); // 10000 1919 10000
 * ```
 */
export async function loadCounterFactSplits(
  options: CounterFactSplitOptions = {},
): Promise<CounterFactSplits> {
  const dir = dirUrl(options.dir ?? defaultDataRawDir());
  const at = (file: string): URL => new URL(file, dir);
  const [train, val, edit] = await Promise.all([
    loadCounterFact(at(DATA_RAW_FILES.counterfactTrain)),
    loadCounterFact(at(DATA_RAW_FILES.counterfactVal)),
    loadCounterFact(
      at(options.edit1k ? DATA_RAW_FILES.counterfactEdit1k : DATA_RAW_FILES.counterfactEdit),
    ),
  ]);
  return { train, val, edit };
}

function dirUrl(dir: string | URL): URL {
  if (dir instanceof URL) return dir.href.endsWith("/") ? dir : new URL(`${dir.href}/`);
  const withSlash = dir.endsWith("/") ? dir : `${dir}/`;
  // Relative folders are taken from the working directory, as Deno's file APIs do.
  return new URL(withSlash, `file://${platform().cwd()}/`);
}
