/**
 * The public data files this project reads, pinned: where each comes from (a repository at a
 * commit), its size and its SHA-256. `deno task data fetch` downloads exactly these bytes, and
 * every folder the data lookup searches uses the same layout (`counterfact/…`, `zsre/…`).
 * @module
 */

/**
 * A data set that can be fetched by name.
 * @example
 * ```ts
 * import type { DatasetName } from "./pins.ts";
 * const name: DatasetName = "zsre";
 * console.log(name);
 * ```
 */
export type DatasetName = "counterfact" | "zsre";

/**
 * Every fetchable data set's name.
 * @example
 * ```ts
 * import { DATASET_NAMES } from "./pins.ts";
 * console.log(DATASET_NAMES.join(", ")); // "counterfact, zsre"
 * ```
 */
export const DATASET_NAMES: readonly DatasetName[] = ["counterfact", "zsre"];

/**
 * One pinned file.
 * @example
 * ```ts
 * import { DATASETS, type PinnedFile } from "./pins.ts";
 * const file: PinnedFile = DATASETS.zsre[0];
 * console.log(file.path, file.bytes);
 * ```
 */
export interface PinnedFile {
  /** Where it lives inside a data folder, e.g. `counterfact/counterfact-val.json`. */
  readonly path: string;
  /** GitHub repository `owner/name` it is published in. */
  readonly repo: string;
  /** The commit it is pinned at (40 hex digits). */
  readonly commit: string;
  /** Its path inside that repository. */
  readonly repoPath: string;
  /** Size in bytes. */
  readonly bytes: number;
  /** SHA-256 of the bytes, lower-case hex. */
  readonly sha256: string;
}

// EasyEdit-format CounterFact and zsRE, as published with the KnowledgeSpread code (the data is
// ROME's CounterFact, MIT, and zsRE as packaged by MEND/ROME).
const REPO = "Jometeorie/KnowledgeSpread";
const COMMIT = "51d7402617c2e52bde0dc11b76e400c3725a181a";

function pin(path: string, repoPath: string, bytes: number, sha256: string): PinnedFile {
  return Object.freeze({ path, repo: REPO, commit: COMMIT, repoPath, bytes, sha256 });
}

/**
 * The files of each data set. CounterFact's three splits have disjoint case ids and together
 * hold all 21,919 cases (the published `counterfact-edit-1k.json`, a subset of the edit split,
 * is not needed by any command). zsRE is the 1,000-record ROME-format sample of its train
 * split.
 * @example
 * ```ts
 * import { DATASETS } from "./pins.ts";
 * console.log(DATASETS.counterfact.map((f) => f.path));
 * ```
 */
export const DATASETS: Readonly<Record<DatasetName, readonly PinnedFile[]>> = Object.freeze({
  counterfact: Object.freeze([
    pin(
      "counterfact/counterfact-train.json",
      "data/counterfact/counterfact-train.json",
      3949873,
      "f7d443ffb0c5da6cbe816cdac45281ccb3f204b8a840f00d07a4aafa949bcd76",
    ),
    pin(
      "counterfact/counterfact-val.json",
      "data/counterfact/counterfact-val.json",
      760303,
      "42b44645471020a9419d183deb9e113e82941380046861770ea0083dabd13982",
    ),
    pin(
      "counterfact/counterfact-edit.json",
      "data/counterfact/counterfact-edit.json",
      3950774,
      "bfe31a7081932739406e282bb625d74222549c3386c15b1df3dfbc3978c69eec",
    ),
  ]),
  zsre: Object.freeze([
    pin(
      "zsre/zsre_mend_train-1k.json",
      "data/zsre/zsre_mend_train-1k.json",
      537970,
      "e62596101d8ed551889c26c0d2a5277f92eaef3b14416d8eaee39b04a244ab60",
    ),
  ]),
});

/** Where pinned files are served from: GitHub's raw file host. */
export const DEFAULT_BASE_URL = "https://raw.githubusercontent.com/";

/**
 * The download address of a pinned file: `<base><repo>/<commit>/<repoPath>`.
 * @param file The pinned file.
 * @param base Host and path prefix (default {@link DEFAULT_BASE_URL}; a mirror, or a local
 *   server in tests). A missing trailing "/" is added.
 * @returns The URL as a string.
 * @example
 * ```ts
 * import { DATASETS, pinnedUrl } from "./pins.ts";
 * console.log(pinnedUrl(DATASETS.zsre[0], "http://127.0.0.1:8000"));
 * // http://127.0.0.1:8000/Jometeorie/KnowledgeSpread/51d74…/data/zsre/zsre_mend_train-1k.json
 * ```
 */
export function pinnedUrl(file: PinnedFile, base: string = DEFAULT_BASE_URL): string {
  const prefix = base.endsWith("/") ? base : `${base}/`;
  return `${prefix}${file.repo}/${file.commit}/${file.repoPath}`;
}
